using System.Diagnostics;
using System.Runtime.Versioning;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// Safe defaults: a clear single line for a data directory that cannot be used, and limits that hold before memory is
/// spent on what they limit. Listening on loopback and refusing connections past -c are shown in ServerLifecycleTests,
/// owner-only permissions in StreamLogFormatTests.
/// </summary>
[TestFixture]
[Platform(Exclude = "Win")]
[UnsupportedOSPlatform("windows")]
public sealed class SecurityDefaultsTests
{
    [Test]
    public async Task A_file_where_the_data_directory_should_be_stops_startup_with_one_line()
    {
        var path = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, "--port", ServerProcess.FreePort().ToString(), "--data-dir", path);

            Assert.That(exitCode, Is.EqualTo(1), output);
            Assert.That(output.TrimEnd().Split('\n'), Has.Length.EqualTo(1), output);
            Assert.That(output, Does.StartWith($"nemcache: data directory {path} cannot be used"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Root may write anywhere, so as root the server runs as nobody against a root-owned 0700 directory:
    /// a directory that belongs to another user, which this user cannot write.</summary>
    [Test]
    public async Task A_data_directory_this_user_cannot_write_stops_startup_with_one_line()
    {
        var directory = ServerProcess.NewDataDirectory();
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        var asRoot = Environment.UserName == "root";
        if (!asRoot)
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }
        else if (!File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser"))
        {
            Assert.Ignore("running as root without runuser: no other user to start the server as");
        }
        try
        {
            var start = new ProcessStartInfo(asRoot ? "runuser" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            if (asRoot)
            {
                foreach (var argument in new[] { "-u", "nobody", "--", "env", "DOTNET_CLI_HOME=/tmp", "dotnet" })
                {
                    start.ArgumentList.Add(argument);
                }
            }
            foreach (var argument in new[] { ServerProcess.ServiceAssembly, "--port", ServerProcess.FreePort().ToString(), "--data-dir", directory })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();

            Assert.That(process.ExitCode, Is.EqualTo(1), output);
            Assert.That(output.TrimEnd().Split('\n'), Has.Length.EqualTo(1), output);
            Assert.That(output, Does.StartWith($"nemcache: data directory {directory} cannot be used").And.Contain("denied"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task An_item_over_the_size_limit_is_refused_before_its_data_arrives_and_its_data_is_never_held()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = await server.ConnectAsync();
        const int Declared = 256 * 1024 * 1024;
        var before = ResidentKiB(server.ProcessId);

        await client.ExpectAsync($"set big 0 0 {Declared}\r\n", "SERVER_ERROR object too large for cache\r\n");
        var chunk = new byte[1024 * 1024];
        Array.Fill(chunk, (byte)'v');
        for (var sent = 0; sent < Declared / chunk.Length; sent++)
        {
            await client.SendAsync(chunk);
        }
        await client.ExpectAsync("\r\nget big\r\n", "END\r\n");

        Assert.That(ResidentKiB(server.ProcessId) - before, Is.LessThan(64 * 1024), "256 MiB of a refused block went by; far less was held");
    }

    private static long ResidentKiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}

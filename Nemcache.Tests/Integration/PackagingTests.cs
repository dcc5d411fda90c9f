using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>packaging/: the systemd unit, and the readiness notification the server sends under systemd.</summary>
[TestFixture]
public sealed class PackagingTests
{
    private const string UnitPath = "packaging/nemcache.service";
    private const string InstalledExecutable = "/opt/nemcache/Nemcache.Service";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The server needs only the .NET runtime: its host, configuration and logging come as packages, not
    /// as the ASP.NET Core shared framework.</summary>
    [Test]
    public void The_server_needs_only_the_dotnet_runtime()
    {
        var runtimeConfig = Path.Combine(AppContext.BaseDirectory, "Nemcache.Service.runtimeconfig.json");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(runtimeConfig));
        var options = json.RootElement.GetProperty("runtimeOptions");
        var frameworks = options.TryGetProperty("frameworks", out var list)
            ? list.EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList()
            : [options.GetProperty("framework").GetProperty("name").GetString()];
        Assert.That(frameworks, Is.EqualTo(new[] { "Microsoft.NETCore.App" }));
    }

    /// <summary>
    /// systemd-analyze verify checks every directive and that ExecStart's program exists, so the unit is checked with
    /// ExecStart pointing at the server this test run built instead of /opt/nemcache. It exits 0 even for an unknown
    /// directive, which it only prints: any output is a failure.
    /// </summary>
    [Test]
    public async Task Systemd_unit_passes_systemd_analyze_verify()
    {
        var analyze = new[] { "/usr/bin/systemd-analyze", "/bin/systemd-analyze" }.FirstOrDefault(File.Exists);
        if (analyze is null)
        {
            Assert.Ignore("systemd-analyze is not installed (test.sh installs systemd)");
        }
        var unit = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), UnitPath));
        Assert.That(unit, Does.Contain(InstalledExecutable));
        var scratch = Directory.CreateTempSubdirectory("nemcache-unit-");
        try
        {
            var copy = Path.Combine(scratch.FullName, "nemcache.service");
            await File.WriteAllTextAsync(copy, unit.Replace(InstalledExecutable, Path.Combine(AppContext.BaseDirectory, "Nemcache.Service")));
            var start = new ProcessStartInfo(analyze, ["verify", copy]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.That(process.ExitCode, Is.EqualTo(0), output);
            Assert.That(output.Trim(), Is.Empty);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Under systemd (a parent process named systemd, and NOTIFY_SOCKET), the server sends READY=1 once its port is
    /// open, and STOPPING=1 at SIGTERM. The parent here is bash started under the name systemd.
    /// </summary>
    [Test]
    public async Task Signals_readiness_to_systemd_once_listening()
    {
        var scratch = Directory.CreateTempSubdirectory("nemcache-notify-");
        var socketPath = Path.Combine(scratch.FullName, "notify");
        var fakeSystemd = Path.Combine(scratch.FullName, "systemd");
        File.CreateSymbolicLink(fakeSystemd, "/bin/bash");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo(fakeSystemd)
        {
            // "; exit" keeps bash as the server's parent instead of letting it exec the server.
            ArgumentList = { "-c", $"dotnet '{ServerProcess.ServiceAssembly}' -p {port} --data-dir '{scratch.FullName}/data'; exit $?" },
            Environment = { ["NOTIFY_SOCKET"] = socketPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var parent = Process.Start(start)!;
        try
        {
            Assert.That(await ReceiveAsync(notify), Is.EqualTo("READY=1"));
            using (var client = await TextClient.ConnectAsync(port))
            {
                await client.ExpectAsync("set ready 0 0 1\r\nx\r\n", "STORED\r\n");
            }

            var server = int.Parse(File.ReadAllText($"/proc/{parent.Id}/task/{parent.Id}/children").Trim());
            using (var term = Process.Start("kill", ["-TERM", server.ToString()]))
            {
                await term.WaitForExitAsync();
            }
            Assert.That(await ReceiveAsync(notify), Does.StartWith("STOPPING=1"));
        }
        finally
        {
            parent.Kill(entireProcessTree: true);
            await parent.WaitForExitAsync();
            scratch.Delete(recursive: true);
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(Timeout);
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read).Trim();
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Nemcache.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Nemcache.sln not found above " + AppContext.BaseDirectory);
    }
}

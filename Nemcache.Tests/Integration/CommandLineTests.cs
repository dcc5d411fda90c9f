using System.Net;
using System.Net.Sockets;
using System.Text;
using Nemcache.Service;
using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>The real process started with memcached's command line, as an operator swapping the binary would.</summary>
[TestFixture]
public sealed class CommandLineTests
{
    private const int SigHup = 1;
    private const string DebianConfFixture = "Integration/Fixtures/debian-memcached.conf";
    private const string InstalledDebianConf = "/etc/memcached.conf";

    private static IEnumerable<TestCaseData> DebianConfs()
    {
        yield return new TestCaseData(Path.Combine(AppContext.BaseDirectory, DebianConfFixture)).SetName("Starts_with_the_flags_of_Debians_memcached_conf(fixture)");
        if (File.Exists(InstalledDebianConf))
        {
            yield return new TestCaseData(InstalledDebianConf).SetName("Starts_with_the_flags_of_Debians_memcached_conf(installed)");
        }
    }

    /// <summary>
    /// The flags Debian's systemd wrapper builds from memcached.conf: comments and blank lines dropped, -d and -h lines
    /// dropped (systemd supervises), lines that are not flags (logfile) dropped, the rest split on blanks.
    /// </summary>
    private static List<string> WrapperFlags(string confPath) =>
        File.ReadLines(confPath)
            .Select(line => (line.IndexOf('#') is var hash and >= 0 ? line[..hash] : line).Trim())
            .Where(line => line.StartsWith('-') && !line.StartsWith("-d") && !line.StartsWith("-h"))
            .SelectMany(line => line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            .ToList();

    [TestCaseSource(nameof(DebianConfs))]
    public async Task Starts_with_the_flags_of_Debians_memcached_conf(string confPath)
    {
        var flags = WrapperFlags(confPath);
        // Only where this machine differs from a Debian server: a free port, a pid file where the test may write, and a
        // user that exists (memcached's package creates memcache; a machine without the package has nobody).
        var port = ServerProcess.FreePort();
        var scratch = Directory.CreateTempSubdirectory("nemcache-debian-conf-");
        // The server may drop root for the conf's user, who must be able to write the data directory and the pid file.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(scratch.FullName, (UnixFileMode)Convert.ToInt32("777", 8));
        }
        var pidFile = Path.Combine(scratch.FullName, "memcached.pid");
        Replace(flags, "-p", port.ToString());
        Replace(flags, "-P", pidFile);
        var user = flags[flags.IndexOf("-u") + 1];
        if (!File.ReadLines("/etc/passwd").Any(line => line.StartsWith(user + ":")))
        {
            Replace(flags, "-u", user = "nobody");
        }

        try
        {
            await using var server = await ServerProcess.StartAsync(Path.Combine(scratch.FullName, "data"), arguments: [.. flags]);
            using (var client = await TextClient.ConnectAsync(port))
            {
                await client.ExpectAsync("set debian 0 0 2\r\nok\r\nget debian\r\n", "STORED\r\nVALUE debian 0 2\r\nok\r\nEND\r\n");
            }
            Assert.That(server.Output, Does.Contain("memory limit 64 MB").And.Contain($"listen 127.0.0.1:{port},"));
            Assert.That(server.Output, Does.Not.Contain("warn:"), "the packaged conf uses no flag that Nemcache ignores");
            Assert.That(File.ReadAllText(pidFile).Trim(), Is.EqualTo(server.ProcessId.ToString()));
            if (Environment.UserName == "root")
            {
                Assert.That(ProcessUserId(server.ProcessId), Is.EqualTo(UserId(user)), "-u: root becomes the conf's user");
            }

            Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            Assert.That(File.Exists(pidFile), Is.False, "the pid file is removed at shutdown");
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Test]
    public async Task Several_listen_addresses_in_one_flag_are_all_served()
    {
        await using var server = await ServerProcess.StartAsync(arguments: ["-l", "127.0.0.1,::1"]);
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            using var client = new TcpClient(address.AddressFamily);
            await client.ConnectAsync(address, server.Port);
            var stream = client.GetStream();
            await stream.WriteAsync("version\r\n"u8.ToArray());
            var reply = new byte[256];
            var read = await stream.ReadAsync(reply);
            Assert.That(Encoding.ASCII.GetString(reply, 0, read), Is.EqualTo($"VERSION {ServerContext.Version}\r\n"), address.ToString());
        }
    }

    [Test]
    public async Task Flags_that_do_not_apply_are_ignored_with_one_line_each()
    {
        await using var server = await ServerProcess.StartAsync(arguments: ["-t", "4", "-U", "0", "-o", "modern", "-vv"]);
        var warnings = server.Output.Split('\n').Where(line => line.Contains("warn:")).ToList();
        Assert.That(warnings, Has.Count.EqualTo(2), server.Output);
        Assert.That(warnings[0], Does.Contain("-t/--threads 4: ignored: "));
        Assert.That(warnings[1], Does.Contain("-o/--extended modern: ignored: "));
        Assert.That(server.Output, Does.Contain(", verbosity 2"));
        using var client = await server.ConnectAsync();
        await client.SendAsync("stats settings\r\n");
        var settings = new List<string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            settings.Add(line);
        }
        Assert.That(settings, Does.Contain("STAT verbosity 2"));
    }

    [Test]
    public async Task Daemon_mode_is_refused_in_one_line()
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, "-d", "-m", "64");
        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output.Trim(), Does.StartWith("nemcache: -d/--daemon: not supported: ").And.Not.Contain("\n"));
    }

    [Test]
    public async Task A_pid_file_that_cannot_be_written_stops_startup_in_one_line()
    {
        var dataDirectory = ServerProcess.NewDataDirectory();
        try
        {
            var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, "-p", ServerProcess.FreePort().ToString(),
                "--data-dir", dataDirectory, "-P", "/nonexistent/memcached.pid");
            Assert.That(exitCode, Is.EqualTo(1), output);
            var errors = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => !line.Contains(" info: ")).ToList();
            Assert.That(errors, Has.Count.EqualTo(1), output);
            Assert.That(errors[0], Does.StartWith("nemcache: -P/--pidfile (NEMCACHE_PID_FILE): cannot write /nonexistent/memcached.pid"));
        }
        finally
        {
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }

    [TestCase("-h")]
    [TestCase("--help")]
    public async Task Help_prints_the_flags_and_exits_0(string flag)
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, flag);
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("-p, --port=<num>").And.Contain("-P, --pidfile=<file>").And.Contain("--data-dir=<dir>"));
    }

    [TestCase("-V")]
    [TestCase("--version")]
    public async Task Version_prints_nemcaches_version_and_commit_and_exits_0(string flag)
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, flag);
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(output.Trim(), Is.EqualTo($"Nemcache {BuildInfo.Version} (commit {BuildInfo.Commit}), following memcached 1.6.18"));
        Assert.That(BuildInfo.Commit, InGitCheckout() ? Does.Match("^[0-9a-f]{12}$") : Is.EqualTo("unknown"),
            "a build in a git checkout embeds its commit; one from a tarball says unknown");
    }

    [Test]
    public async Task Version_and_stats_report_memcacheds_version_beside_nemcaches()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = await server.ConnectAsync();
        await client.ExpectAsync("version\r\n", $"VERSION 1.6.18-nemcache-{BuildInfo.Version}+{BuildInfo.Commit}\r\n");
        await client.SendAsync("stats\r\n");
        var stats = new List<string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            stats.Add(line);
        }
        Assert.That(stats, Does.Contain($"STAT version 1.6.18-nemcache-{BuildInfo.Version}+{BuildInfo.Commit}")
            .And.Contain($"STAT nemcache_version {BuildInfo.Version}")
            .And.Contain($"STAT nemcache_commit {BuildInfo.Commit}"));
    }

    [Test]
    public async Task Sighup_is_ignored_and_the_server_keeps_serving()
    {
        await using var server = await ServerProcess.StartAsync();
        using var client = await server.ConnectAsync();
        await client.ExpectAsync("set before 0 0 1\r\nx\r\n", "STORED\r\n");

        // Started under nohup, the server inherits SIGHUP ignored, and the runtime leaves it so: nothing arrives to log.
        var inheritedIgnored = (SignalMask(server.ProcessId, "SigIgn") & (1UL << (SigHup - 1))) != 0;

        server.SendSignal(SigHup);
        // The log line is the sign the signal arrived; the console logger writes it from its own thread.
        for (var waited = 0; waited < 50 && !server.HasExited && !server.Output.Contains("SIGHUP: ignored"); waited++)
        {
            await Task.Delay(100);
        }

        Assert.That(server.HasExited, Is.False, server.Output);
        if (!inheritedIgnored)
        {
            Assert.That(server.Output, Does.Contain("SIGHUP: ignored"));
        }
        await client.ExpectAsync("get before\r\n", "VALUE before 0 1\r\nx\r\nEND\r\n");
        Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
    }

    private static bool InGitCheckout()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Nemcache.sln")))
            {
                return Path.Exists(Path.Combine(directory.FullName, ".git"));
            }
        }
        return false;
    }

    private static void Replace(List<string> flags, string flag, string value) => flags[flags.IndexOf(flag) + 1] = value;

    private static string UserId(string user) =>
        File.ReadLines("/etc/passwd").Select(line => line.Split(':')).First(fields => fields[0] == user)[2];

    /// <summary>A signal mask line of /proc/PID/status (SigIgn, SigCgt…): bit N-1 is signal N.</summary>
    private static ulong SignalMask(int pid, string name) =>
        Convert.ToUInt64(File.ReadLines($"/proc/{pid}/status").First(line => line.StartsWith(name + ":"))[(name.Length + 1)..].Trim(), 16);

    /// <summary>The real user id, the first field of /proc/PID/status's Uid line.</summary>
    private static string ProcessUserId(int pid) =>
        File.ReadLines($"/proc/{pid}/status").First(line => line.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
}

using System.Net.NetworkInformation;
using System.Net;
using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>Startup, settings and shutdown of the real process.</summary>
[TestFixture]
public sealed class ServerLifecycleTests
{
    [TestCase("--port", "0", "-p/--port")]
    [TestCase("--port", "70000", "-p/--port")]
    [TestCase("-m", "abc", "-m/--memory-limit")]
    [TestCase("-c", "0", "-c/--conn-limit")]
    [TestCase("-I", "2g", "-I/--max-item-size")]
    [TestCase("-I", "100", "-I/--max-item-size")]
    [TestCase("-l", "not-an-address", "-l/--listen")]
    public async Task Invalid_flag_stops_startup_with_one_line_naming_it_and_exit_code_2(string flag, string value, string named)
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, flag, value);
        Assert.That(exitCode, Is.EqualTo(2), output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), output);
        Assert.That(lines[0], Does.StartWith("nemcache: ").And.Contain(named).And.Contain(value));
    }

    [TestCase("NEMCACHE_SYNC", "sometimes")]
    [TestCase("NEMCACHE_USE_BITCASK", "yes")]
    [TestCase("NEMCACHE_SYNC_INTERVAL_MS", "-5")]
    [TestCase("NEMCACHE_MEMORY_LIMIT_MB", "1.5")]
    [TestCase("NEMCACHE_TYPO", "1")]
    public async Task Invalid_environment_variable_stops_startup_with_one_line_naming_it(string variable, string value)
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(new Dictionary<string, string> { [variable] = value });
        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output.Trim(), Does.Not.Contain("\n").And.Contain(variable["NEMCACHE_".Length..]));
    }

    [Test]
    [TestCase("-Z", "1")]
    [TestCase("-U", "11211")]
    [TestCase("--port")]
    public async Task Unknown_or_incomplete_flag_stops_startup(params string[] arguments)
    {
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, arguments);
        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("nemcache: ").And.Contain(arguments[0]));
    }

    [Test]
    public async Task Port_in_use_stops_startup_with_one_line_and_exit_code_1()
    {
        await using var first = await ServerProcess.StartAsync();
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, "--port", first.Port.ToString(),
            "--data-dir", ServerProcess.NewDataDirectory());
        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain($"nemcache: cannot listen on 127.0.0.1:{first.Port}"));
    }

    [Test]
    public async Task Unusable_data_directory_stops_startup_with_one_line_and_exit_code_1()
    {
        var notADirectory = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await ServerProcess.RunUntilExitAsync(null, "--port", ServerProcess.FreePort().ToString(),
                "--data-dir", notADirectory);
            Assert.That(exitCode, Is.EqualTo(1), output);
            var errors = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.StartsWith("nemcache: ")).ToList();
            Assert.That(errors, Has.Count.EqualTo(1), output);
            Assert.That(errors[0], Does.Contain(notADirectory));
        }
        finally
        {
            File.Delete(notADirectory);
        }
    }

    [TestCase("0", TestName = "A_second_server_on_the_same_data_dir_is_refused_in_one_line(stream)")]
    [TestCase("1", TestName = "A_second_server_on_the_same_data_dir_is_refused_in_one_line(bitcask)")]
    public async Task A_second_server_on_the_same_data_dir_is_refused_in_one_line(string useBitcask)
    {
        var environment = new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = useBitcask };
        await using var first = await ServerProcess.StartAsync(environment: environment);
        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(environment, "--port", ServerProcess.FreePort().ToString(),
            "--data-dir", first.DataDirectory);
        Assert.That(exitCode, Is.EqualTo(1), output);
        var errors = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.StartsWith("nemcache: ")).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), output);
        Assert.That(errors[0], Does.Contain("in use by another Nemcache process"));
        using var client = await first.ConnectAsync();
        await client.ExpectAsync("set still 0 0 2\r\nok\r\nget still\r\n", "STORED\r\nVALUE still 0 2\r\nok\r\nEND\r\n");
    }

    [Test]
    public async Task Logs_effective_settings_in_one_line_at_startup()
    {
        await using var server = await ServerProcess.StartAsync(arguments: ["-m", "32", "-c", "77", "-I", "2m"]);
        Assert.That(server.Output, Does.Contain("memory limit 32 MB, max item size 2097152 B, connection limit 77"));
    }

    [Test]
    public async Task Listens_on_loopback_only_by_default()
    {
        await using var server = await ServerProcess.StartAsync();
        var listeners = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners()
            .Where(endPoint => endPoint.Port == server.Port).ToList();
        Assert.That(listeners, Is.Not.Empty);
        Assert.That(listeners.Select(endPoint => endPoint.Address), Is.All.EqualTo(IPAddress.Loopback));
    }

    [Test]
    public async Task Sigterm_finishes_and_exits_0()
    {
        await using var server = await ServerProcess.StartAsync();
        using (var client = await server.ConnectAsync())
        {
            await client.ExpectAsync("set k 0 0 1\r\nx\r\n", "STORED\r\n");
        }
        Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
    }

    [Test]
    public async Task Connection_past_the_limit_is_refused_as_memcached_refuses_it()
    {
        await using var server = await ServerProcess.StartAsync(arguments: ["-c", "4"]);
        var open = new List<TextClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var client = await server.ConnectAsync();
                await client.ExpectAsync("version\r\n", $"VERSION {ServerContext.Version}\r\n");
                open.Add(client);
            }
            using (var refused = await server.ConnectAsync())
            {
                await refused.ExpectReplyAsync("ERROR Too many open connections\r\n");
                Assert.That(await refused.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), Is.True);
            }
            await open[0].ExpectAsync("version\r\n", $"VERSION {ServerContext.Version}\r\n");

            open[0].Dispose();
            open.RemoveAt(0);
            await Task.Delay(200);
            using var admitted = await server.ConnectAsync();
            await admitted.ExpectAsync("version\r\n", $"VERSION {ServerContext.Version}\r\n");
        }
        finally
        {
            open.ForEach(client => client.Dispose());
        }
    }
}

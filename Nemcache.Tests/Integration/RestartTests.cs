using System.Text;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// The promise users pick Nemcache for, end to end: write through the protocol, stop the real process (SIGTERM, or
/// SIGKILL right after the last reply), start it again on the same data directory, and read every write back.
/// </summary>
[TestFixture]
public sealed class RestartTests
{
    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.PluginsAndSyncs))]
    public async Task Sigterm_restart_keeps_every_write(Dictionary<string, string> environment) =>
        await WriteStopAndVerify(environment, kill: false);

    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.PluginsAndSyncs))]
    public async Task Sigkill_right_after_the_last_reply_keeps_every_replied_write(Dictionary<string, string> environment) =>
        await WriteStopAndVerify(environment, kill: true);

    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.PluginsAndSyncs))]
    public async Task Delayed_flush_keeps_its_meaning_across_a_restart(Dictionary<string, string> environment)
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("set before 0 0 1\r\nx\r\nflush_all 3\r\n", "STORED\r\nOK\r\n");
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            }
            await Task.Delay(TimeSpan.FromSeconds(3.5));
            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("get before\r\nset after 0 0 1\r\ny\r\n", "END\r\nSTORED\r\n");
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            }
            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("get before after\r\n", "VALUE after 0 1\r\ny\r\nEND\r\n");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task WriteStopAndVerify(Dictionary<string, string> environment, bool kill)
    {
        var directory = ServerProcess.NewDataDirectory();
        var expected = new Dictionary<string, (uint Flags, string Value)?>();
        try
        {
            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await WriteWorkload(client, expected);
                if (kill)
                {
                    await server.KillAsync();
                }
                else
                {
                    Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
                }
            }

            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                Assert.That(server.Output, Does.Match(@"(restored|recovered) \d+ (items|keys)"), server.Output);
                using var client = await server.ConnectAsync();
                foreach (var (key, item) in expected)
                {
                    await client.SendAsync($"get {key}\r\n");
                    var reply = item is { } live
                        ? $"VALUE {key} {live.Flags} {Encoding.Latin1.GetByteCount(live.Value)}\r\n{live.Value}\r\nEND\r\n"
                        : "END\r\n";
                    await client.ExpectReplyAsync(reply);
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Sets, overwrites, appends, incr, touch and deletes, pipelined in batches; records what each key must hold.</summary>
    private static async Task WriteWorkload(TextClient client, Dictionary<string, (uint Flags, string Value)?> expected)
    {
        var random = new Random(7);
        for (var batch = 0; batch < 20; batch++)
        {
            var request = new StringBuilder();
            var reply = new StringBuilder();
            for (var i = 0; i < 50; i++)
            {
                var key = $"key{random.Next(400)}";
                var current = expected.GetValueOrDefault(key);
                switch (random.Next(6))
                {
                    case 0 when current is not null:
                        request.Append($"delete {key}\r\n");
                        reply.Append("DELETED\r\n");
                        expected[key] = null;
                        break;
                    case 1 when current is { } live:
                        request.Append($"append {key} 0 0 3\r\n+ap\r\n");
                        reply.Append("STORED\r\n");
                        expected[key] = (live.Flags, live.Value + "+ap");
                        break;
                    case 2 when current is not null:
                        request.Append($"touch {key} 3600\r\n");
                        reply.Append("TOUCHED\r\n");
                        break;
                    case 3:
                        request.Append($"set {key} 0 0 1\r\n5\r\nincr {key} 37\r\n");
                        reply.Append("STORED\r\n42\r\n");
                        expected[key] = (0, "42");
                        break;
                    default:
                        var value = new string((char)('a' + random.Next(26)), random.Next(1, 300));
                        var flags = (uint)random.Next();
                        request.Append($"set {key} {flags} 0 {value.Length}\r\n{value}\r\n");
                        reply.Append("STORED\r\n");
                        expected[key] = (flags, value);
                        break;
                }
            }
            await client.ExpectAsync(request.ToString(), reply.ToString());
        }
    }
}

using System.Net.Sockets;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// The quick form of tests/crash_torture.py: concurrent writers, SIGKILL at random moments, restart, and every key
/// checked against what its writer was told. Each writer owns its keys, so a key's expected state is exact: what its
/// last acknowledged write left, or, for the write in flight at the kill, that or what the write would have made.
/// </summary>
[TestFixture]
public sealed class CrashTortureTests
{
    private const int Kills = 4;
    private const int Writers = 4;
    private const int KeysPerWriter = 40;

    /// <summary>A key's state: null when absent.</summary>
    private sealed record Item(uint Flags, string Value);

    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.PluginsAndSyncs))]
    public async Task Sigkill_at_random_moments_loses_no_replied_write(Dictionary<string, string> mode)
    {
        // A small compaction threshold makes compactions run throughout, so some kills land inside one.
        var environment = new Dictionary<string, string>(mode) { ["NEMCACHE_STREAM_COMPACT_BYTES"] = "8192" };
        var directory = ServerProcess.NewDataDirectory();
        var random = new Random(31);
        // One map per writer: the writer is the only one to touch it while it runs.
        var allowed = Enumerable.Range(0, Writers).Select(w => Enumerable.Range(0, KeysPerWriter)
            .ToDictionary(k => $"w{w}k{k}", _ => new List<Item?> { null })).ToArray();
        var acknowledged = 0;
        try
        {
            for (var kill = 0; kill < Kills; kill++)
            {
                await using var server = await ServerProcess.StartAsync(directory, environment);
                await VerifyAndSettle(server, allowed, kill);
                var writers = allowed.Select((keys, w) => Task.Run(() => WriteUntilBroken(server.Port, keys, new Random(kill * 100 + w)))).ToArray();
                await Task.Delay(random.Next(150, 700));
                await server.KillAsync();
                foreach (var count in await Task.WhenAll(writers))
                {
                    acknowledged += count;
                }
            }
            await using (var last = await ServerProcess.StartAsync(directory, environment))
            {
                await VerifyAndSettle(last, allowed, Kills);
            }
            Assert.That(acknowledged, Is.GreaterThan(Kills * Writers), "the writers did write between the kills");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Reads every key; each must hold one of its allowed states, which then becomes its only one.</summary>
    private static async Task VerifyAndSettle(ServerProcess server, Dictionary<string, List<Item?>>[] allowed, int kill)
    {
        using var client = await server.ConnectAsync();
        foreach (var keys in allowed)
        {
            var found = await client.GetManyAsync(keys.Keys);
            foreach (var (key, states) in keys)
            {
                var actual = found.TryGetValue(key, out var item) ? new Item(item.Flags, item.Value) : null;
                Assert.That(states, Does.Contain(actual), $"after kill {kill}, {key} holds {actual?.ToString() ?? "nothing"}");
                states.Clear();
                states.Add(actual);
            }
        }
    }

    /// <summary>Random writes on the writer's own keys until the server dies; returns how many were acknowledged.</summary>
    private static async Task<int> WriteUntilBroken(int port, Dictionary<string, List<Item?>> keys, Random random)
    {
        var names = keys.Keys.ToArray();
        var acknowledged = 0;
        try
        {
            using var client = await TextClient.ConnectAsync(port);
            while (true)
            {
                var key = names[random.Next(names.Length)];
                var old = keys[key].Single();
                var (request, expected, next) = NextWrite(key, old, random);
                // In flight: either state may survive the kill.
                keys[key].Add(next);
                await client.SendAsync(request);
                var reply = await client.ReadLineAsync();
                Assert.That(reply, Is.EqualTo(expected), request);
                keys[key].Remove(old);
                acknowledged++;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException
                                   || (ex is AssertionException closed && closed.Message.StartsWith("connection closed")))
        {
            return acknowledged;
        }
    }

    private static (string Request, string Reply, Item? Next) NextWrite(string key, Item? old, Random random)
    {
        var flags = (uint)random.Next();
        var choice = random.Next(10);
        if (old is not null && choice < 2)
        {
            return ($"delete {key}\r\n", "DELETED", null);
        }
        if (old is not null && choice < 4 && old.Value.Length < 2000)
        {
            return ($"append {key} 0 0 2\r\n+a\r\n", "STORED", old with { Value = old.Value + "+a" });
        }
        if (old is not null && choice < 6 && ulong.TryParse(old.Value, out var number))
        {
            var sum = unchecked(number + 7);
            return ($"incr {key} 7\r\n", sum.ToString(), old with { Value = sum.ToString() });
        }
        // The value names its key and a fresh token, so another key's value or an older one cannot pass for it.
        var value = choice < 7 ? random.Next(1000).ToString() : $"{key}|{random.NextInt64():x}|".PadRight(random.Next(30, 900), 'v');
        return ($"set {key} {flags} 0 {value.Length}\r\n{value}\r\n", "STORED", new Item(flags, value));
    }
}

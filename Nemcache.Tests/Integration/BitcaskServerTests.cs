using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>The Bitcask plugin in the real server: its merge trigger, its lock and its stats (switching to it:
/// PluginSwitchServerTests).</summary>
[TestFixture]
public sealed class BitcaskServerTests
{
    private static readonly Dictionary<string, string> Bitcask = new()
    {
        ["NEMCACHE_USE_BITCASK"] = "1",
        ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "8192",
    };

    [Test]
    public async Task Sigusr1_merges_while_serving_and_keeps_every_value()
    {
        await using var server = await ServerProcess.StartAsync(environment: Bitcask);
        using var client = await server.ConnectAsync();
        var value = new string('v', 200);
        for (var round = 0; round < 5; round++)
        {
            var request = string.Concat(Enumerable.Range(0, 40).Select(i => $"set k{i} {round} 0 {value.Length}\r\n{value}\r\n"));
            await client.ExpectAsync(request, string.Concat(Enumerable.Repeat("STORED\r\n", 40)));
        }
        Assert.That(await StatAsync(client, "bitcask_merges"), Is.EqualTo("0"));

        server.SendSignal(ServerProcess.SigUsr1);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await StatAsync(client, "bitcask_merges") == "0" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.That(await StatAsync(client, "bitcask_merges"), Is.Not.EqualTo("0"), server.Output);
        Assert.That(long.Parse((await StatAsync(client, "bitcask_dead_bytes"))!), Is.LessThan(40 * value.Length), "dead copies reclaimed");
        for (var i = 0; i < 40; i++)
        {
            await client.ExpectAsync($"get k{i}\r\n", $"VALUE k{i} 4 {value.Length}\r\n{value}\r\nEND\r\n");
        }
        Assert.That(server.HasExited, Is.False);
    }

    [Test]
    public async Task Stats_report_the_plugins_figures()
    {
        await using var server = await ServerProcess.StartAsync(environment: Bitcask);
        using var client = await server.ConnectAsync();
        await client.ExpectAsync("set a 0 0 1\r\nx\r\n", "STORED\r\n");
        foreach (var name in new[] { "bitcask_files", "bitcask_live_bytes", "bitcask_dead_bytes", "bitcask_merges", "bitcask_recovery_ms", "bitcask_recovered_keys" })
        {
            Assert.That(await StatAsync(client, name), Is.Not.Null, name);
        }
        Assert.That(await StatAsync(client, "persistence"), Is.EqualTo("bitcask"));
    }

    private static async Task<string?> StatAsync(TextClient client, string name)
    {
        await client.SendAsync("stats\r\n");
        string? value = null;
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            var parts = line.Split(' ');
            if (parts[1] == name)
            {
                value = parts[2];
            }
        }
        return value;
    }
}

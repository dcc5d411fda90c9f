using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>The Bitcask plugin in the real server: switching to it, its merge trigger, its lock and its stats.</summary>
[TestFixture]
public sealed class BitcaskServerTests
{
    private static readonly Dictionary<string, string> Stream = new() { ["NEMCACHE_USE_BITCASK"] = "0" };
    private static readonly Dictionary<string, string> Bitcask = new()
    {
        ["NEMCACHE_USE_BITCASK"] = "1",
        ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "8192",
    };

    [Test]
    public async Task Switching_a_stream_data_dir_to_bitcask_imports_the_cache_once()
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var server = await ServerProcess.StartAsync(directory, Stream))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("set kept 5 0 4\r\nkept\r\nset gone 0 0 4\r\ngone\r\ndelete gone\r\nset touched 0 0 1\r\nt\r\ntouch touched 3600\r\n",
                    "STORED\r\nSTORED\r\nDELETED\r\nSTORED\r\nTOUCHED\r\n");
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            }
            await using (var server = await ServerProcess.StartAsync(directory, Bitcask))
            {
                Assert.That(server.Output, Does.Contain("Imported 2 items"), server.Output);
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("get kept gone touched\r\nset after 0 0 1\r\na\r\n",
                    "VALUE kept 5 4\r\nkept\r\nVALUE touched 0 1\r\nt\r\nEND\r\nSTORED\r\n");
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            }
            Assert.That(File.Exists(Path.Combine(directory, "cachelog.bin")), Is.False, "the stream log is set aside");
            Assert.That(File.Exists(Path.Combine(directory, "cachelog.bin.imported")), Is.True);
            await using (var server = await ServerProcess.StartAsync(directory, Bitcask))
            {
                Assert.That(server.Output, Does.Not.Contain("Imported"), "the import runs once");
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("get kept after\r\n", "VALUE kept 5 4\r\nkept\r\nVALUE after 0 1\r\na\r\nEND\r\n");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

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

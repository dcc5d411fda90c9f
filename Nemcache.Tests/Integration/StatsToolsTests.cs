using System.Diagnostics;
using System.Text.RegularExpressions;
using Nemcache.Tests.Support;
using static Nemcache.Tests.Support.BinaryPacket;

namespace Nemcache.Tests.Integration;

/// <summary>
/// `stats` and its groups, and the key listings, over TCP against the real server, as the operators' tools read them:
/// every memcached 1.6.18 field that applies to Nemcache is there (the lists are the fields both servers report,
/// taken from the two side by side), and memcdump and php-memcached's getAllKeys() list the keys. CI installs both
/// tools (test.sh); without them these tests fail rather than skip.
/// </summary>
[TestFixture]
public sealed partial class StatsToolsTests
{
    private static readonly string[] GeneralFields =
    [
        "pid", "uptime", "time", "version", "pointer_size", "rusage_user", "rusage_system", "max_connections",
        "curr_connections", "total_connections", "rejected_connections", "cmd_get", "cmd_set",
        "cmd_flush", "cmd_touch", "get_hits", "get_misses", "get_expired", "get_flushed", "delete_misses", "delete_hits",
        "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval", "touch_hits",
        "touch_misses", "store_too_large", "store_no_memory", "bytes_read", "bytes_written", "limit_maxbytes",
        "accepting_conns", "listen_disabled_num", "time_in_listen_disabled_us", "threads", "conn_yields",
        "lru_crawler_starts", "bytes", "curr_items", "total_items",
        "expired_unfetched", "evicted_unfetched", "evictions", "reclaimed", "crawler_reclaimed", "crawler_items_checked",
    ];

    private static readonly string[] SettingsFields =
    [
        "maxbytes", "maxconns", "tcpport", "udpport", "inter", "verbosity", "evictions", "domain_socket",
        "shutdown_command", "num_threads", "stat_key_prefix", "detail_enabled", "cas_enabled", "tcp_backlog",
        "binding_protocol", "auth_enabled_sasl", "auth_enabled_ascii", "item_size_max", "maxconns_fast", "slab_reassign",
        "slab_automove", "lru_crawler", "tail_repair_time", "flush_enabled", "dump_enabled", "lru_maintainer_thread",
        "lru_segmented", "temp_lru", "idle_timeout", "track_sizes", "inline_ascii_response", "ssl_enabled", "memory_file",
        // Nemcache's own settings, every one.
        "persistence", "data_dir", "sync", "sync_interval_ms", "stream_compact_bytes", "bitcask_max_file_bytes",
        "bitcask_merge_fragmentation", "bitcask_merge_min_dead_bytes", "metrics_listen",
    ];

    private static readonly string[] ItemsFields =
    [
        "items:1:number", "items:1:age", "items:1:mem_requested", "items:1:evicted", "items:1:evicted_nonzero",
        "items:1:evicted_time", "items:1:outofmemory", "items:1:tailrepairs", "items:1:reclaimed",
        "items:1:expired_unfetched", "items:1:evicted_unfetched", "items:1:crawler_reclaimed",
        "items:1:crawler_items_checked", "items:1:lrutail_reflocked",
    ];

    private static readonly string[] SlabsFields =
    [
        "1:chunk_size", "1:chunks_per_page", "1:total_pages", "1:total_chunks", "1:used_chunks", "1:free_chunks",
        "1:free_chunks_end", "1:get_hits", "1:cmd_set", "1:delete_hits", "1:incr_hits", "1:decr_hits", "1:cas_hits",
        "1:cas_badval", "1:touch_hits", "active_slabs", "total_malloced",
    ];

    private ServerProcess _server = null!;

    [SetUp]
    public async Task StartServer() => _server = await ServerProcess.StartAsync();

    [TearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    [Test]
    public async Task Every_group_reports_memcacheds_fields_that_apply()
    {
        using var client = await _server.ConnectAsync();
        Assert.That(await StatsAsync(client, "items"), Is.Empty, "memcached lists a class only once it holds items");
        await client.ExpectAsync("set a 0 0 3\r\nabc\r\nset b 0 100 10\r\n0123456789\r\nget a\r\n",
            "STORED\r\nSTORED\r\nVALUE a 0 3\r\nabc\r\nEND\r\n");

        var general = await StatsAsync(client, "");
        Assert.That(general.Keys, Is.SupersetOf(GeneralFields));
        var settings = await StatsAsync(client, "settings");
        Assert.That(settings.Keys, Is.SupersetOf(SettingsFields));
        Assert.That(settings["metrics_listen"], Is.EqualTo("off"), "the Prometheus endpoint is off by default");
        Assert.That(settings["stream_compact_bytes"], Is.EqualTo("67108864"));

        var items = await StatsAsync(client, "items");
        Assert.That(items.Keys, Is.EquivalentTo(ItemsFields));
        Assert.That(items["items:1:number"], Is.EqualTo("2"));
        Assert.That(items["items:1:mem_requested"], Is.EqualTo(general["bytes"]));

        var slabs = await StatsAsync(client, "slabs");
        Assert.That(slabs.Keys, Is.EquivalentTo(SlabsFields));
        Assert.That((slabs["1:used_chunks"], slabs["active_slabs"], slabs["total_malloced"]),
            Is.EqualTo(("2", "1", general["bytes"])));
        Assert.That(slabs["1:get_hits"], Is.EqualTo("1"));

        Assert.That(await StatsAsync(client, "sizes"), Is.EqualTo(new Dictionary<string, string> { ["sizes_status"] = "disabled" }));

        var conns = await StatsAsync(client, "conns");
        var listener = conns.Single(c => c.Value == $"tcp:127.0.0.1:{_server.Port}" && c.Key.EndsWith(":addr")).Key.Split(':')[0];
        Assert.That(conns[listener + ":state"], Is.EqualTo("conn_listening"));
        var self = conns.Single(c => c.Key.EndsWith(":listen_addr")).Key.Split(':')[0];
        Assert.That(conns[self + ":state"], Is.EqualTo("conn_parse_cmd"), "the connection asking is running a command");
        Assert.That(conns[self + ":addr"], Does.Match("^tcp:127\\.0\\.0\\.1:[0-9]+$"));
        Assert.That(conns.Keys, Does.Contain(self + ":secs_since_last_cmd"));

        using var binary = await _server.ConnectAsync();
        await binary.SendAsync(Request(Stat, "items"));
        var binaryItems = new List<string>();
        for (var reply = await binary.ReadResponseAsync(); reply.Key.Length > 0; reply = await binary.ReadResponseAsync())
        {
            binaryItems.Add(reply.KeyText);
        }
        Assert.That(binaryItems, Is.EquivalentTo(ItemsFields), "binary stat groups are the text ones");
    }

    [Test]
    public async Task Refused_oversized_values_count_as_store_too_large()
    {
        using var client = await _server.ConnectAsync();
        var tooLarge = new string('x', 1024 * 1024 + 1);
        await client.ExpectAsync($"set big 0 0 {tooLarge.Length}\r\n{tooLarge}\r\n", "SERVER_ERROR object too large for cache\r\n");
        await client.ExpectAsync($"ms big {tooLarge.Length}\r\n{tooLarge}\r\n", "SERVER_ERROR object too large for cache\r\n");
        var general = await StatsAsync(client, "");
        Assert.That((general["store_too_large"], general["store_no_memory"]), Is.EqualTo(("2", "0")));
    }

    [Test]
    public async Task Cachedump_lists_the_most_recently_used_keys_as_memcached_does()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set old 0 0 3\r\nabc\r\n", "STORED\r\n");
        await Task.Delay(20);
        await client.ExpectAsync("set new 0 2000000000 10\r\n0123456789\r\n", "STORED\r\n");

        await client.ExpectOnlyAsync("stats cachedump 1 0\r\n",
            "ITEM new [10 b; 2000000000 s]\r\nITEM old [3 b; 0 s]\r\nEND\r\n");
        await client.ExpectOnlyAsync("stats cachedump 1 1\r\n", "ITEM new [10 b; 2000000000 s]\r\nEND\r\n");
        await client.ExpectOnlyAsync("stats cachedump 2 0\r\n", "END\r\n");
        await client.ExpectOnlyAsync("stats cachedump 64 0\r\n", "CLIENT_ERROR Illegal slab id\r\n");
        await client.ExpectOnlyAsync("stats cachedump 1\r\n", "CLIENT_ERROR bad command line\r\n");
        await client.ExpectOnlyAsync("stats cachedump x 0\r\n", "CLIENT_ERROR bad command line format\r\n");
    }

    [Test]
    public async Task Metadump_lists_every_key_url_encoded_with_its_metadata()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set plain 0 0 3\r\nabc\r\nset b%20c 0 2000000000 1\r\nx\r\nset k\u0001\u00c3\u00a9 0 0 1\r\ny\r\nget plain\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\nVALUE plain 0 3\r\nabc\r\nEND\r\n");

        await client.SendAsync("lru_crawler metadump all\r\n");
        var lines = new List<string>();
        for (var line = await ReadBareLineAsync(client); line != "END\r"; line = await ReadBareLineAsync(client))
        {
            lines.Add(line);
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.That(lines.All(l => MetadumpLine().IsMatch(l)), string.Join("\n", lines));
        var byKey = lines.Select(l => MetadumpLine().Match(l)).ToDictionary(m => m.Groups["key"].Value);
        Assert.That(byKey.Keys, Is.EquivalentTo(new[] { "plain", "b%2520c", "k%01%C3%A9" }));
        Assert.That(byKey["plain"].Groups["exp"].Value, Is.EqualTo("-1"));
        Assert.That(byKey["b%2520c"].Groups["exp"].Value, Is.EqualTo("2000000000"));
        Assert.That(byKey["plain"].Groups["fetch"].Value, Is.EqualTo("yes"));
        Assert.That(byKey["b%2520c"].Groups["fetch"].Value, Is.EqualTo("no"));
        Assert.That(long.Parse(byKey["plain"].Groups["la"].Value), Is.InRange(now - 5, now + 1));

        await client.ExpectOnlyAsync("lru_crawler metadump 2\r\n", "END\r\n");
        await client.ExpectOnlyAsync("lru_crawler metadump 0\r\n", "BADCLASS invalid class id\r\n");
        await client.ExpectOnlyAsync("lru_crawler metadump\r\n", "ERROR\r\n");
    }

    [Test]
    public async Task Memcdump_lists_every_key()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set one 0 0 1\r\n1\r\nset two 0 0 1\r\n2\r\nset three 0 100 1\r\n3\r\n", "STORED\r\nSTORED\r\nSTORED\r\n");
        var (exitCode, output) = await RunAsync("memcdump", "apt-get install -y libmemcached-tools", $"--servers=127.0.0.1:{_server.Port}");
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EquivalentTo(new[] { "one", "two", "three" }));
    }

    [Test]
    public async Task Php_memcached_getAllKeys_lists_every_key()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set alpha 0 0 1\r\n1\r\nset beta 0 0 1\r\n2\r\n", "STORED\r\nSTORED\r\n");
        var script = $"$m = new Memcached(); $m->addServer('127.0.0.1', {_server.Port}); " +
                     "$keys = $m->getAllKeys(); if ($keys === false) { echo 'failed: ', $m->getResultMessage(); exit(1); } " +
                     "sort($keys); echo implode(',', $keys);";
        var (exitCode, output) = await RunAsync("php", "apt-get install -y php-cli php-memcached", "-r", script);
        Assert.That((exitCode, output), Is.EqualTo((0, "alpha,beta")));
    }

    private static async Task<Dictionary<string, string>> StatsAsync(TextClient client, string group)
    {
        await client.SendAsync(group.Length == 0 ? "stats\r\n" : $"stats {group}\r\n");
        var stats = new Dictionary<string, string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            var parts = line.Split(' ', 3);
            Assert.That(parts.Length == 3 && parts[0] == "STAT", line);
            stats.Add(parts[1], parts[2]);
        }
        return stats;
    }

    /// <summary>metadump's lines end in a bare newline (its END in CRLF, which this leaves a CR on).</summary>
    private static async Task<string> ReadBareLineAsync(TextClient client)
    {
        var line = new List<byte>();
        while (true)
        {
            var next = (await client.ReadExactlyAsync(1))[0];
            if (next == '\n')
            {
                return System.Text.Encoding.Latin1.GetString(line.ToArray());
            }
            line.Add(next);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, string install, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{tool} is not installed: {install} (test.sh does this)");
            throw;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, (await stdout + await stderr).Trim());
        }
    }

    [GeneratedRegex("^key=(?<key>\\S+) exp=(?<exp>-?[0-9]+) la=(?<la>[0-9]+) cas=[0-9]+ fetch=(?<fetch>yes|no) cls=1 size=[0-9]+$")]
    private static partial Regex MetadumpLine();
}

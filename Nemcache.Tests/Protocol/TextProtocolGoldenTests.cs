using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// Request/reply pairs over TCP against the real server. Every expected reply here was taken from memcached 1.6.18
/// (Debian's package) given the same bytes, except that our VERSION carries our name. The exchanges that need time to
/// pass run against a clock the test moves, in <see cref="TextProtocolClockTests"/>.
/// </summary>
[TestFixture]
public sealed class TextProtocolGoldenTests
{
    private ServerProcess _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await ServerProcess.StartAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    private static IEnumerable<TestCaseData> Exchanges()
    {
        TestCaseData Case(string name, string request, string reply) => new TestCaseData(request, reply).SetName(name);

        yield return Case("set then get", "set g1 5 0 3\r\nabc\r\nget g1\r\n", "STORED\r\nVALUE g1 5 3\r\nabc\r\nEND\r\n");
        yield return Case("data block longer than declared keeps old value",
            "set g2 0 0 1\r\nx\r\nset g2 0 0 2\r\nxyz\r\nget g2\r\n",
            "STORED\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nVALUE g2 0 1\r\nx\r\nEND\r\n");
        yield return Case("key of 251 bytes", $"set {new string('k', 251)} 0 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("get key of 251 bytes", $"get {new string('k', 251)}\r\n", "CLIENT_ERROR bad command line format\r\n");
        yield return Case("key of 250 bytes", $"set {new string('k', 250)} 0 0 1\r\nx\r\n", "STORED\r\n");
        yield return Case("negative length", "set g3 0 0 -1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("flags not a number", "set g3 x 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("negative flags", "set g3 -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("flags above 32 bits keep their low 32 bits", "set g4 4294967296 0 1\r\nx\r\nget g4\r\n", "STORED\r\nVALUE g4 0 1\r\nx\r\nEND\r\n");
        yield return Case("largest flags", "set g5 4294967295 0 1\r\nx\r\nget g5\r\n", "STORED\r\nVALUE g5 4294967295 1\r\nx\r\nEND\r\n");
        yield return Case("flags beyond 64 bits", "set g5 18446744073709551616 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("exptime beyond 64 bits", "set g5 0 99999999999999999999 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("negative exptime stores nothing visible", "set g6 0 0 1\r\nx\r\nset g6 0 -1 1\r\ny\r\nget g6\r\n", "STORED\r\nSTORED\r\nEND\r\n");
        yield return Case("unknown command", "foo\r\n", "ERROR\r\n");
        yield return Case("empty line", "\r\n", "ERROR\r\n");
        yield return Case("commands are case sensitive", "GET a\r\n", "ERROR\r\n");
        yield return Case("get without key", "get\r\n", "ERROR\r\n");
        yield return Case("binary junk", "\x00\x01\x02junk\r\n", "ERROR\r\n");
        yield return Case("incr missing", "incr g7 1\r\n", "NOT_FOUND\r\n");
        yield return Case("incr and decr edges",
            "set g8 0 0 2\r\n10\r\ndecr g8 1\r\nget g8\r\nincr g8 18446744073709551615\r\nincr g8 1\r\nincr g8 -1\r\nincr g8 abc\r\ndecr g8 100\r\n",
            "STORED\r\n9\r\nVALUE g8 0 2\r\n9 \r\nEND\r\n8\r\n9\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\n0\r\n");
        yield return Case("incr non numeric", "set g9 0 0 3\r\nabc\r\nincr g9 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        yield return Case("incr without delta", "incr g9\r\n", "ERROR\r\n");
        yield return Case("delete forms",
            "delete g10 0\r\ndelete g10 1\r\ndelete g10 noreply\r\ndelete g10\r\n",
            "NOT_FOUND\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nNOT_FOUND\r\n");
        yield return Case("delete hit", "set g11 0 0 1\r\nx\r\ndelete g11\r\nget g11\r\n", "STORED\r\nDELETED\r\nEND\r\n");
        yield return Case("touch", "set g12 0 0 1\r\nx\r\ntouch g12 10\r\ntouch g12-missing 10\r\ntouch g12 abc\r\ntouch g12\r\n",
            "STORED\r\nTOUCHED\r\nNOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n");
        yield return Case("verbosity forms", "verbosity\r\nverbosity 1\r\nverbosity 1 noreply\r\nverbosity a\r\nverbosity noreply\r\nverbosity 0\r\n",
            "ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nOK\r\n");
        yield return Case("cas forms", "cas g13 0 0 1\r\nx\r\ncas g13 0 0 1 abc\r\nx\r\ncas g13 0 0 1 5\r\nx\r\n",
            "ERROR\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nNOT_FOUND\r\n");
        yield return Case("cas mismatch", "set g14 0 0 1\r\nx\r\ncas g14 0 0 1 999999999\r\ny\r\ncas g14 0 0 1 999999999 noreply\r\ny\r\n",
            "STORED\r\nEXISTS\r\n");
        yield return Case("line of 3000 bytes", new string('x', 3000) + "\r\nversion\r\n", $"ERROR\r\nVERSION {ServerContext.Version}\r\n");
        yield return Case("multiget of 1500 keys", "get " + string.Concat(Enumerable.Repeat("k ", 1500)) + "\r\n", "END\r\n");
        yield return Case("set noreply", "set g15 0 0 1 noreply\r\nx\r\nget g15\r\n", "VALUE g15 0 1\r\nx\r\nEND\r\n");
        yield return Case("extra token that is not noreply", "set g16 0 0 1 garbage\r\nx\r\n", "STORED\r\n");
        yield return Case("too few tokens", "set g17 0 0\r\nx\r\n", "ERROR\r\nERROR\r\n");
        yield return Case("gat and gats", "set g18 0 0 1\r\nx\r\ngat 10 g18\r\ngat abc g18\r\ngat 10\r\ngat\r\n",
            "STORED\r\nVALUE g18 0 1\r\nx\r\nEND\r\nCLIENT_ERROR invalid exptime argument\r\nEND\r\nERROR\r\n");
        yield return Case("LF-only data block is a bad chunk", "set g19 0 0 1\nx\nget g19\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
        yield return Case("control bytes in keys", "set \x10\x10\x01k 0 0 1\r\nx\r\nget \x10\x10\x01k\r\n", "STORED\r\nVALUE \x10\x10\x01k 0 1\r\nx\r\nEND\r\n");
        yield return Case("NUL ends the line", "set nul\u0000b 0 0 1\r\nx\r\nget nul\u0000b\r\n", "ERROR\r\nERROR\r\nEND\r\n");
        yield return Case("tab is part of a key", "set k\tk 0 0 1\r\nx\r\nget k\tk\r\n", "STORED\r\nVALUE k\tk 0 1\r\nx\r\nEND\r\n");
        yield return Case("bad chunk under noreply", "set g20 0 0 1 noreply\r\nxyz\r\n", "ERROR\r\n");
        yield return Case("stats subcommands", "stats sizes\r\nstats reset\r\nstats detail\r\nstats foo\r\n",
            "STAT sizes_status disabled\r\nEND\r\nRESET\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nERROR\r\n");
        yield return Case("numbers with plus sign and extra spaces", "set  g21  0 0 +1\r\nx\r\nget g21\r\n", "STORED\r\nVALUE g21 0 1\r\nx\r\nEND\r\n");
        yield return Case("append and prepend", "set g22 7 0 1\r\nb\r\nappend g22 0 0 1\r\nc\r\nprepend g22 0 0 1\r\na\r\nprepend g22-missing 0 0 1\r\nx\r\nget g22\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\nNOT_STORED\r\nVALUE g22 7 3\r\nabc\r\nEND\r\n");
        yield return Case("add and replace", "add g23 0 0 1\r\na\r\nadd g23 0 0 1\r\nb\r\nreplace g23 0 0 1\r\nc\r\nreplace g23-missing 0 0 1\r\nd\r\nget g23\r\n",
            "STORED\r\nNOT_STORED\r\nSTORED\r\nNOT_STORED\r\nVALUE g23 0 1\r\nc\r\nEND\r\n");
        yield return Case("version ignores extra tokens", "version foo bar\r\n", $"VERSION {ServerContext.Version}\r\n");
        yield return Case("shutdown is disabled", "shutdown\r\n", "ERROR: shutdown not enabled\r\n");
    }

    [TestCaseSource(nameof(Exchanges))]
    public async Task Replies_as_memcached_does(string request, string expected)
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectOnlyAsync(request, expected);
    }

    [Test]
    public async Task Value_over_the_item_limit_is_refused_swallowed_and_drops_the_old_value()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set big1 0 0 1\r\nx\r\n", "STORED\r\n");
        await client.ExpectAsync($"set big1 0 0 2000000\r\n{new string('x', 2_000_000)}\r\nget big1\r\n",
            "SERVER_ERROR object too large for cache\r\nEND\r\n");
    }

    [Test]
    public async Task Append_past_the_item_limit_is_not_stored()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync($"set big2 0 0 1048000\r\n{new string('x', 1_048_000)}\r\nappend big2 0 0 1000\r\n{new string('y', 1000)}\r\n",
            "STORED\r\nNOT_STORED\r\n");
    }

    [Test]
    public async Task Gets_returns_a_cas_that_cas_accepts_once()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set c1 0 0 1\r\nx\r\n", "STORED\r\n");
        await client.SendAsync("gets c1\r\n");
        var header = await client.ReadLineAsync();
        var cas = header.Split(' ')[4];
        await client.ExpectReplyAsync("x\r\nEND\r\n");
        await client.ExpectAsync($"cas c1 0 0 1 {cas}\r\ny\r\ncas c1 0 0 1 {cas}\r\nz\r\nget c1\r\n",
            "STORED\r\nEXISTS\r\nVALUE c1 0 1\r\ny\r\nEND\r\n");
    }

    [Test]
    public async Task Quit_closes_the_connection_without_answering_what_follows()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("quit\r\nversion\r\n");
        Assert.That(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task Flush_all_forms()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("flush_all -1\r\nflush_all abc\r\nflush_all 0\r\nflush_all noreply\r\nflush_all 0 noreply\r\nflush_all 10 x\r\nflush_all 0\r\nversion\r\n",
            $"OK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nOK\r\nOK\r\nVERSION {ServerContext.Version}\r\n");
    }

    [Test]
    public async Task Stats_reports_memcached_fields()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("stats\r\n");
        var names = new List<string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            Assert.That(line, Does.Match("^STAT [a-z_]+ \\S+$"));
            names.Add(line.Split(' ')[1]);
        }
        Assert.That(names, Is.SupersetOf(new[]
        {
            "pid", "uptime", "time", "version", "curr_connections", "total_connections", "cmd_get", "cmd_set",
            "get_hits", "get_misses", "bytes", "curr_items", "total_items", "evictions", "limit_maxbytes", "threads",
        }));

        await client.SendAsync("stats settings\r\n");
        var settings = new List<string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            settings.Add(line);
        }
        Assert.That(settings, Does.Contain("STAT maxbytes 67108864"));
        Assert.That(settings, Does.Contain("STAT item_size_max 1048576"));
        Assert.That(settings, Does.Contain($"STAT tcpport {_server.Port}"));
    }
}

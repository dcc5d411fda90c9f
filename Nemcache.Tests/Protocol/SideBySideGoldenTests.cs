using System.Net;
using System.Net.Sockets;
using System.Text;
using Nemcache.Tests.Support;
using static Nemcache.Tests.Support.BinaryPacket;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The same bytes sent to memcached 1.6.18 (Debian's package) and to Nemcache, each on a fresh connection: both must
/// give exactly the expected reply, and close the connection exactly when it is expected to. The expected replies are
/// spelled out here so that the rules read as a list; memcached checks that they are its own. Covered: the command
/// line's edges (framing, tokens, unknown and HTTP-looking lines), meta CAS with C0, and the item size limit's exact
/// boundary in all three protocols. Where Nemcache deliberately differs, the case is not here but in README.md's list.
/// </summary>
[TestFixture]
public sealed class SideBySideGoldenTests
{
    /// <summary>memcached's and Nemcache's default -I.</summary>
    private const int ItemSizeLimit = 1024 * 1024;

    /// <summary>An item's fixed cost against -I: memcached's header, the key's NUL, the data's CRLF and the CAS.</summary>
    private const int ItemOverhead = 48 + 1 + 2 + 8;

    private const int FlagsCost = 4;

    private ServerProcess _nemcache = null!;
    private MemcachedProcess _memcached = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _memcached = await MemcachedProcess.StartAsync();
        _nemcache = await ServerProcess.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        if (_nemcache is not null) await _nemcache.DisposeAsync();
        if (_memcached is not null) await _memcached.DisposeAsync();
    }

    private static IEnumerable<TestCaseData> LineEdges()
    {
        TestCaseData Open(string name, string request, string reply) => new TestCaseData(request, reply, false).SetName(name);
        TestCaseData Closes(string name, string request, string reply = "") => new TestCaseData(request, reply, true).SetName(name);
        var tokens21 = string.Join(' ', Enumerable.Range(0, 21).Select(i => $"t{i}"));
        var tokens30 = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"t{i}"));

        // Cross-protocol defence: an unknown command whose last token starts with "HTTP/" hangs up, without a reply.
        yield return Closes("HTTP GET hangs up", "GET / HTTP/1.0\r\n");
        yield return Closes("HTTP PUT hangs up before the next command", "PUT /x HTTP/1.1\r\nmn\r\n");
        yield return Closes("HTTP DELETE hangs up", "DELETE HTTP/1.1\r\n");
        yield return Closes("HTTP POST with headers hangs up", "POST /form HTTP/1.1\r\nHost: cache\r\nContent-Length: 0\r\n\r\n");
        yield return Closes("a lone HTTP token hangs up", "HTTP/1.1\r\n");
        yield return Closes("HTTP as the 23rd token hangs up", $"XYZ {tokens21} HTTP/1.0\r\n");
        yield return Closes("after replies already due", "mn\r\nGET / HTTP/1.0\r\nmn\r\n", "MN\r\n");
        yield return Open("HTTP beyond the 23rd token is an unknown command", $"XYZ {tokens30} HTTP/1.0\r\nmn\r\n", "ERROR\r\nMN\r\n");
        yield return Open("lower-case get is a get of two keys", "get / HTTP/1.0\r\n", "END\r\n");
        yield return Open("HTTP is matched case-sensitively", "FOO / http/1.0\r\n", "ERROR\r\n");
        yield return Open("a first letter of a known command is never HTTP", "getx / HTTP/1.0\r\nsetx / HTTP/1.0\r\ndel / HTTP/1.0\r\n",
            "ERROR\r\nERROR\r\nERROR\r\n");
        yield return Open("a two-letter m command is never HTTP", "mz / HTTP/1.0\r\n", "ERROR\r\n");
        yield return Open("a one-letter command is never HTTP", "G / HTTP/1.0\r\n", "ERROR\r\n");

        // Framing and tokens.
        yield return Open("blank line", "\r\n", "ERROR\r\n");
        yield return Open("bare newline", "\n", "ERROR\r\n");
        yield return Open("line of spaces", "   \r\n", "ERROR\r\n");
        yield return Open("one-letter command", "g\r\n", "ERROR\r\n");
        yield return Open("cas without arguments", "cas\r\n", "ERROR\r\n");
        yield return Open("set without arguments", "set\r\n", "ERROR\r\n");
        yield return Open("leading and doubled spaces", "  set  le1 0 0 1\r\nx\r\n  get   le1  \r\n", "STORED\r\nVALUE le1 0 1\r\nx\r\nEND\r\n");
        yield return Open("carriage return inside a key", "set le2\rx 0 0 1\r\ny\r\nget le2\rx\r\n", "STORED\r\nVALUE le2\rx 0 1\r\ny\r\nEND\r\n");
        yield return Open("bget is a get", "set le3 0 0 1\r\nx\r\nbget le3\r\n", "STORED\r\nVALUE le3 0 1\r\nx\r\nEND\r\n");
        yield return Open("too many tokens for set", $"set le4 0 0 1 {tokens21}\r\nx\r\n", "ERROR\r\nERROR\r\n");
        yield return Open("a long complete line is answered", new string('x', 3000) + "\r\nmn\r\n", "ERROR\r\nMN\r\n");
        yield return Open("a get of many keys", "get " + string.Concat(Enumerable.Repeat("k ", 1500)) + "\r\n", "END\r\n");

        // Numbers are read as memcached's safe_strto* read them: C whitespace around them, "-0", and lengths, exptimes
        // and delays kept to 32 bits.
        yield return Open("exptime 4294967295 is -1, already expired", "set nu1 0 4294967295 1\r\nx\r\nget nu1\r\n", "STORED\r\nEND\r\n");
        yield return Open("exptime 4294967296 is 0, never", "set nu2 0 4294967296 1\r\nx\r\nget nu2\r\n", "STORED\r\nVALUE nu2 0 1\r\nx\r\nEND\r\n");
        yield return Open("length 4294967297 is 1", "set nu3 0 0 4294967297\r\nx\r\nget nu3\r\n", "STORED\r\nVALUE nu3 0 1\r\nx\r\nEND\r\n");
        yield return Open("a tab before a number", "set nu4 \t5 0 1\r\nx\r\nget nu4\r\n", "STORED\r\nVALUE nu4 5 1\r\nx\r\nEND\r\n");
        yield return Open("a carriage return ends a number", "set nu5 0 0 1\rx\r\ny\r\nget nu5\r\n", "STORED\r\nVALUE nu5 0 1\r\ny\r\nEND\r\n");
        yield return Open("minus zero flags", "set nu6 -0 0 1\r\nx\r\nget nu6\r\n", "STORED\r\nVALUE nu6 0 1\r\nx\r\nEND\r\n");
        yield return Open("negative flags", "set nu7 -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Open("a negative delta that wraps to a small one", "set nu8 0 0 1\r\n5\r\nincr nu8 -18446744073709551615\r\n", "STORED\r\n6\r\n");
        yield return Open("gat exptime 4294967295 expires the item", "set nu9 0 0 1\r\nx\r\ngat 4294967295 nu9\r\nget nu9\r\n",
            "STORED\r\nVALUE nu9 0 1\r\nx\r\nEND\r\nEND\r\n");
        yield return Open("verbosity keeps 32 bits", "verbosity 4294967297\r\nverbosity -1\r\n", "OK\r\nCLIENT_ERROR bad command line format\r\n");

        // noreply is whatever the last token says, even when that token is the length, the cas or the argument.
        yield return Open("noreply as a set's length", "set nr1 0 0 noreply\r\nx\r\nmn\r\n", "ERROR\r\nMN\r\n");
        yield return Open("noreply as a cas's unique", "cas nr2 0 0 1 noreply\r\nx\r\nmn\r\n", "ERROR\r\nMN\r\n");
        yield return Open("noreply as incr's delta", "incr nr3 noreply\r\nmn\r\n", "MN\r\n");
        yield return Open("noreply as touch's exptime", "touch nr4 noreply\r\nmn\r\n", "MN\r\n");

        // The meta commands' own token checks.
        var flags19 = string.Join(' ', Enumerable.Repeat("k", 17));
        var flags18 = string.Join(' ', Enumerable.Repeat("v", 16));
        yield return Open("mg of 19 tokens", $"mg mt1 {flags19}\r\n", "CLIENT_ERROR duplicate flag\r\n");
        yield return Open("mg of 20 tokens", $"mg mt1 {flags19} q\r\n", "CLIENT_ERROR options flags are too long\r\n");
        yield return Open("ms of 20 tokens takes no data block", $"ms mt2 1 {flags18} q\r\nmn\r\n", "CLIENT_ERROR options flags too long\r\nMN\r\n");
        yield return Open("md of 20 tokens", $"md mt3 {flags19} q\r\n", "CLIENT_ERROR options flags too long\r\n");
        yield return Open("ma of 20 tokens", $"ma mt4 {flags19} q\r\n", "CLIENT_ERROR options flags too long\r\n");
        yield return Open("me without a key", "me\r\nmg\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Open("me with a key that is not base64", "me a b c\r\n", "CLIENT_ERROR bad command line format\r\n");

        // Meta CAS: C makes set and replace a cas, which compares even with 0; md compares C0; add ignores C;
        // append compares only a non-zero C; ma's C0 is no check.
        yield return Open("ms C0 on an item is EX", "set mc1 0 0 1\r\nx\r\nms mc1 1 C0\r\ny\r\nmg mc1 v\r\n", "STORED\r\nEX\r\nVA 1\r\nx\r\n");
        yield return Open("ms C0 on a miss is NF", "ms mc2 1 C0\r\ny\r\n", "NF\r\n");
        yield return Open("ms replace C0 on a miss is NF", "ms mc3 1 MR C0\r\ny\r\n", "NF\r\n");
        yield return Open("ms invalidate C0 is EX", "set mc4 0 0 1\r\nx\r\nms mc4 1 I C0\r\ny\r\n", "STORED\r\nEX\r\n");
        yield return Open("ms add ignores C", "ms mc5 1 ME C5\r\ny\r\nms mc5 1 ME C5\r\nz\r\nmg mc5 v\r\n", "HD\r\nNS\r\nVA 1\r\ny\r\n");
        yield return Open("ms append C0 does not compare", "set mc6 0 0 1\r\nx\r\nms mc6 1 MA C0\r\ny\r\nms mc6 1 MA C1\r\nz\r\nmg mc6 v\r\n",
            "STORED\r\nHD\r\nEX\r\nVA 2\r\nxy\r\n");
        yield return Open("md C0 is EX", "set mc7 0 0 1\r\nx\r\nmd mc7 C0\r\nmd mc7 I C0\r\nmg mc7 v\r\n", "STORED\r\nEX\r\nEX\r\nVA 1\r\nx\r\n");
        yield return Open("ma C0 does not compare", "set mc8 0 0 1\r\n5\r\nma mc8 C0 v\r\n", "STORED\r\nVA 1\r\n6\r\n");
    }

    [TestCaseSource(nameof(LineEdges))]
    public Task Line_edges_match_memcached(string request, string reply, bool closes) =>
        BothAnswerAsync(Encoding.Latin1.GetBytes(request), Encoding.Latin1.GetBytes(reply), closes);

    private static IEnumerable<TestCaseData> UnterminatedLines()
    {
        TestCaseData Case(string name, string request, bool closes) => new TestCaseData(request, closes).SetName(name);
        yield return Case("junk past 2048 bytes without a newline hangs up", new string('x', 2100), closes: true);
        yield return Case("a set line past 2048 bytes without a newline hangs up", "set " + new string('k', 2100), closes: true);
        yield return Case("a gat line past 2048 bytes without a newline hangs up", "gat 0 " + string.Concat(Enumerable.Repeat("k ", 1050)), closes: true);
        yield return Case("a get line past 2048 bytes may wait for its newline", "get " + string.Concat(Enumerable.Repeat("k ", 1500)), closes: false);
        yield return Case("a gets line after 100 spaces may wait for its newline", new string(' ', 100) + "gets " + string.Concat(Enumerable.Repeat("k ", 1500)), closes: false);
        yield return Case("a get line after 101 spaces may not", new string(' ', 101) + "get " + string.Concat(Enumerable.Repeat("k ", 1500)), closes: true);
    }

    /// <summary>An open connection then gets its line's newline and answers it.</summary>
    [TestCaseSource(nameof(UnterminatedLines))]
    public Task Unterminated_lines_match_memcached(string request, bool closes) =>
        closes
            ? BothAnswerAsync(Encoding.Latin1.GetBytes(request), [], closes: true)
            : Task.WhenAll(AnswersLaterAsync(_memcached.Port, request), AnswersLaterAsync(_nemcache.Port, request));

    private static async Task AnswersLaterAsync(int port, string request)
    {
        using var client = await TextClient.ConnectAsync(port);
        await client.SendAsync(request);
        Assert.That(await client.IsSilentAsync(TimeSpan.FromMilliseconds(300)), Is.True, "waits for the newline");
        await client.ExpectAsync("\r\n", "END\r\n");
    }

    private static IEnumerable<TestCaseData> SizeLimits()
    {
        TestCaseData Case(string name, string request, string reply) => new TestCaseData(request, reply).SetName(name);
        string Value(int length) => new('v', length);
        const string key10 = "sizekey_10";
        var fits = ItemSizeLimit - ItemOverhead - 2;
        var fitsWithFlags = fits - FlagsCost;
        var fits10 = ItemSizeLimit - ItemOverhead - key10.Length;

        yield return Case("set fits the limit with its overhead", $"set s1 0 0 {fits}\r\n{Value(fits)}\r\nmg s1 s\r\n", $"STORED\r\nHD s{fits}\r\n");
        yield return Case("set one byte over is refused and drops the old value",
            $"set s2 0 0 1\r\nx\r\nset s2 0 0 {fits + 1}\r\n{Value(fits + 1)}\r\nmg s2 s\r\n",
            "STORED\r\nSERVER_ERROR object too large for cache\r\nEN\r\n");
        yield return Case("a value of exactly -I bytes is refused", $"set s3 0 0 {ItemSizeLimit}\r\n{Value(ItemSizeLimit)}\r\nmn\r\n",
            "SERVER_ERROR object too large for cache\r\nMN\r\n");
        yield return Case("flags cost four bytes", $"set s4 1 0 {fitsWithFlags}\r\n{Value(fitsWithFlags)}\r\nset s4 1 0 {fitsWithFlags + 1}\r\n{Value(fitsWithFlags + 1)}\r\n",
            "STORED\r\nSERVER_ERROR object too large for cache\r\n");
        yield return Case("flags that keep only zero bits cost nothing", $"set s5 4294967296 0 {fits}\r\n{Value(fits)}\r\n", "STORED\r\n");
        yield return Case("the key counts", $"set {key10} 0 0 {fits10}\r\n{Value(fits10)}\r\nset {key10} 0 0 {fits10 + 1}\r\n{Value(fits10 + 1)}\r\n",
            "STORED\r\nSERVER_ERROR object too large for cache\r\n");
        yield return Case("add over the limit keeps the old value", $"set s6 0 0 1\r\nx\r\nadd s6 0 0 {fits + 1}\r\n{Value(fits + 1)}\r\nmg s6 v\r\n",
            "STORED\r\nSERVER_ERROR object too large for cache\r\nVA 1\r\nx\r\n");
        yield return Case("append up to the limit, then past it", $"set s7 0 0 {fits - 1}\r\n{Value(fits - 1)}\r\nappend s7 0 0 1\r\nv\r\nappend s7 0 0 1\r\nv\r\nmg s7 s\r\n",
            $"STORED\r\nSTORED\r\nNOT_STORED\r\nHD s{fits}\r\n");
        yield return Case("ms fits the limit with its overhead", $"ms s8 {fits}\r\n{Value(fits)}\r\nms s8 {fitsWithFlags} F1\r\n{Value(fitsWithFlags)}\r\n", "HD\r\nHD\r\n");
        yield return Case("ms one byte over is refused and drops the old value, in any mode",
            $"set s9 0 0 1\r\nx\r\nms s9 {fits + 1} ME\r\n{Value(fits + 1)}\r\nmg s9 v\r\n",
            "STORED\r\nSERVER_ERROR object too large for cache\r\nEN\r\n");
    }

    [TestCaseSource(nameof(SizeLimits))]
    public Task Item_size_limit_matches_memcached(string request, string reply) =>
        BothAnswerAsync(Encoding.Latin1.GetBytes(request), Encoding.Latin1.GetBytes(reply), closes: false);

    [Test]
    public async Task Binary_size_limit_matches_memcached_and_an_oversized_value_keeps_the_connection()
    {
        var fits = ItemSizeLimit - ItemOverhead - 2;
        byte[] Set(byte opcode, string key, uint flags, int length) => Request(opcode, key, StoreExtras(flags, 0), new string('v', length), opaque: 7);
        byte[] request =
        [
            .. Set(BinaryPacket.Set, "b1", 0, 3),
            .. Set(BinaryPacket.Set, "b1", 0, fits),
            .. Set(BinaryPacket.Set, "b1", 0, fits + 1),
            .. Request(Get, "b1", opaque: 7),
            .. Set(BinaryPacket.Set, "b1", 1, fits - FlagsCost),
            .. Set(BinaryPacket.Set, "b1", 1, fits - FlagsCost + 1),
            .. Set(BinaryPacket.Set, "b1", 0, 3),
            .. Set(SetQ, "b1", 0, 2 * ItemSizeLimit),
            .. Request(Get, "b1", opaque: 7),
            .. Set(BinaryPacket.Set, "b1", 0, 3),
            .. Set(BinaryPacket.Add, "b1", 0, fits + 1),
            .. Request(Append, "b1", value: new string('v', fits + 1), opaque: 7),
            .. Request(Append, "b1", value: new string('v', fits), opaque: 7),
            .. Request(Noop, opaque: 7),
        ];
        // Status per reply, with the body's message where there is one; CAS values differ between servers.
        byte[] Reply(byte opcode, ushort status, string message = "") =>
            [0x81, opcode, 0, 0, 0, 0, 0, (byte)status, .. BigEndian((uint)message.Length), .. BigEndian(7), 0, 0, 0, 0, 0, 0, 0, 0,
                .. Encoding.ASCII.GetBytes(message)];
        byte[] expected =
        [
            .. Reply(BinaryPacket.Set, 0), .. Reply(BinaryPacket.Set, 0), .. Reply(BinaryPacket.Set, 3, "Too large."),
            .. Reply(Get, 1, "Not found"), .. Reply(BinaryPacket.Set, 0), .. Reply(BinaryPacket.Set, 3, "Too large."),
            .. Reply(BinaryPacket.Set, 0), .. Reply(SetQ, 3, "Too large."), .. Reply(Get, 1, "Not found"),
            .. Reply(BinaryPacket.Set, 0), .. Reply(BinaryPacket.Add, 3, "Too large."), .. Reply(Append, 3, "Too large."),
            .. Reply(Append, 5, "Not stored."), .. Reply(Noop, 0),
        ];
        await BothAnswerAsync(request, expected, closes: false, ignoreCas: true);
    }

    /// <summary>Sends the request to both servers at once, each on a new connection, and checks both replies.</summary>
    private async Task BothAnswerAsync(byte[] request, byte[] expected, bool closes, bool ignoreCas = false)
    {
        var answers = await Task.WhenAll(ExchangeAsync(_memcached.Port, request, expected.Length, closes),
            ExchangeAsync(_nemcache.Port, request, expected.Length, closes));
        foreach (var (server, (reply, closed)) in new[] { "memcached", "Nemcache" }.Zip(answers))
        {
            var got = ignoreCas ? WithoutBinaryCas(reply) : reply;
            Assert.That(TextClient.Printable(got), Is.EqualTo(TextClient.Printable(expected)), $"{server}'s reply");
            Assert.That(closed, Is.EqualTo(closes), closes ? $"{server} closes the connection" : $"{server} keeps the connection");
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads until <paramref name="expectedLength"/> bytes have come, then until the
    /// server closes (when it is expected to) or has stayed quiet a moment (when not), so that a surplus shows too.
    /// </summary>
    private static async Task<(byte[] Reply, bool Closed)> ExchangeAsync(int port, byte[] request, int expectedLength, bool closes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(request);
        var reply = new List<byte>();
        var buffer = new byte[64 * 1024];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                if (reply.Count >= expectedLength && !closes)
                {
                    quiet.CancelAfter(TimeSpan.FromMilliseconds(150));
                }
                var read = await socket.ReceiveAsync(buffer, quiet.Token);
                if (read == 0)
                {
                    return (reply.ToArray(), true);
                }
                reply.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (OperationCanceledException)
        {
            return (reply.ToArray(), false);
        }
        catch (SocketException)
        {
            return (reply.ToArray(), true);
        }
    }

    /// <summary>Zeroes the CAS of every binary response, which differs between servers.</summary>
    private static byte[] WithoutBinaryCas(byte[] replies)
    {
        var copy = replies.ToArray();
        for (var at = 0; at + 24 <= copy.Length; at += 24 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(at + 8)))
        {
            copy.AsSpan(at + 16, 8).Clear();
        }
        return copy;
    }
}

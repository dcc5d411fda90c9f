using System.Text.RegularExpressions;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The meta commands over TCP against the real server. The exchanges in <see cref="Exchanges"/> were taken from
/// memcached 1.6.18 given the same bytes; the other tests cover what differs between servers (CAS values, item sizes)
/// or where Nemcache goes beyond 1.6.18 (append with N), and persistence across a restart.
/// </summary>
[TestFixture]
public sealed partial class MetaCommandTests
{
    private ServerProcess _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await ServerProcess.StartAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    private static IEnumerable<TestCaseData> Exchanges()
    {
        TestCaseData Case(string name, string request, string reply) => new TestCaseData(request, reply).SetName(name);

        yield return Case("mn", "mn\r\n",
            "MN\r\n");
        yield return Case("mg miss", "mg m1 v\r\n",
            "EN\r\n");
        yield return Case("mg miss q then mn", "mg m1 v q\r\nmn\r\n",
            "MN\r\n");
        yield return Case("ms then mg", "ms m2 3 F5 T0\r\nabc\r\nmg m2 v f t s k O123\r\n",
            "HD\r\nVA 3 f5 t-1 s3 km2 O123\r\nabc\r\n");
        yield return Case("mg hd no v", "ms m3 1\r\nx\r\nmg m3 k\r\nmg m3\r\n",
            "HD\r\nHD km3\r\nHD\r\n");
        yield return Case("ms q", "ms m5 1 q\r\nx\r\nmn\r\n",
            "MN\r\n");
        yield return Case("ms k O b", "ms bTU2 1 k O9 b\r\nx\r\nmg bTU2 b k v\r\nmg m6 v\r\n",
            "HD kbTU2 b O9\r\nVA 1 kbTU2 b\r\nx\r\nEN\r\n");
        yield return Case("unknown flag mg", "mg m2 !\r\n",
            "CLIENT_ERROR invalid flag\r\n");
        yield return Case("unknown flag ms", "ms m2 1 !\r\nx\r\n",
            "CLIENT_ERROR invalid flag\r\n");
        yield return Case("unknown flag md", "md m2 z\r\n",
            "CLIENT_ERROR invalid or duplicate flag\r\n");
        yield return Case("unknown command mz", "mz m2\r\n",
            "ERROR\r\n");
        yield return Case("mg no key", "mg\r\n",
            "ERROR\r\n");
        yield return Case("ms no len", "ms m7\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("ms bad len", "ms m7 abc\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("ms bad chunk", "ms m7 1\r\nxyz\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
        yield return Case("ms modes", "ms m8 1 ME\r\na\r\nms m8 1 ME\r\nb\r\nms m8 1 MA\r\nc\r\nms m8 1 MP\r\nd\r\nms m9 1 MR\r\ne\r\nms m8 1 MR\r\nf\r\nmg m8 v\r\nms m8 1 MS\r\ng\r\nms m8 1 MX\r\nh\r\n",
            "HD\r\nNS\r\nHD\r\nHD\r\nNS\r\nHD\r\nVA 1\r\nf\r\nHD\r\nCLIENT_ERROR invalid mode for ms M token\r\n");
        yield return Case("ms C mismatch", "ms m12 1\r\nx\r\nms m12 1 C1\r\ny\r\nms m13 1 C1\r\ny\r\n",
            "HD\r\nEX\r\nNF\r\n");
        yield return Case("ms q errors", "ms m14 1 q ME\r\nx\r\nms m14 1 q ME\r\nx\r\nmn\r\n",
            "NS\r\nMN\r\n");
        yield return Case("md", "ms m15 1\r\nx\r\nmd m15\r\nmd m15\r\nmd m15 q\r\nmn\r\n",
            "HD\r\nHD\r\nNF\r\nNF\r\nMN\r\n");
        yield return Case("md C", "ms m16 1\r\nx\r\nmd m16 C1\r\n",
            "HD\r\nEX\r\n");
        yield return Case("md x", "ms m18 1 F7\r\nx\r\nmd m18 x\r\nmg m18 v f\r\n",
            "HD\r\nCLIENT_ERROR invalid or duplicate flag\r\nVA 1 f7\r\nx\r\n");
        yield return Case("ma nonnum", "ms m20 1\r\nx\r\nma m20\r\n",
            "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        yield return Case("ma bad delta", "ma m20 Dabc\r\n",
            "CLIENT_ERROR invalid or duplicate flag\r\n");
        yield return Case("mg R recache", "ms m24 1 T10\r\nx\r\nmg m24 R30 v\r\nmg m24 R30 v\r\nmg m24 v\r\n",
            "HD\r\nVA 1 W\r\nx\r\nVA 1 Z\r\nx\r\nVA 1 Z\r\nx\r\n");
        yield return Case("mg h l", "ms m25 1\r\nx\r\nmg m25 h l\r\nmg m25 h l\r\n",
            "HD\r\nHD h0 l0\r\nHD h1 l0\r\n");
        yield return Case("mg T touch", "ms m26 1\r\nx\r\nmg m26 T100 t v\r\n",
            "HD\r\nVA 1 t100\r\nx\r\n");
        yield return Case("mg E", "ms m28 1\r\nx\r\nmg m28 E999 c\r\n",
            "HD\r\nCLIENT_ERROR invalid flag\r\n");
        yield return Case("ms E", "ms m29 1 E12345 c\r\nx\r\nmg m29 c\r\n",
            "CLIENT_ERROR invalid flag\r\nEN\r\n");
        yield return Case("dup flag", "mg m2 v v\r\n",
            "CLIENT_ERROR duplicate flag\r\n");
        yield return Case("opaque long", "mg m2 O123456789012345678901234567890123\r\n",
            "CLIENT_ERROR opaque token too long\r\n");
        yield return Case("bad b64", "mg !!!! b v\r\n",
            "CLIENT_ERROR error decoding key\r\n");
        yield return Case("mg flags no token", "ms m32 1\r\nx\r\nmg m32 O\r\nmg m32 T\r\n",
            "HD\r\nHD O\r\nCLIENT_ERROR bad token in command line format\r\n");
        yield return Case("ms s flag", "ms m33 1 s\r\nx\r\n",
            "HD\r\n");
        yield return Case("ms F bad", "ms m33 1 Fabc\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\n");
        yield return Case("ms T neg", "ms m34 1 T-1\r\nx\r\nmg m34 v\r\n",
            "HD\r\nEN\r\n");
        yield return Case("mg u", "ms m35 1\r\nx\r\nmg m35 u h\r\nmg m35 h\r\n",
            "HD\r\nHD h0\r\nHD h0\r\n");
        yield return Case("ma vivify MD", "ma m36 N0 J3 MD v\r\n",
            "VA 1\r\n3\r\n");
        yield return Case("mg q hit", "ms m37 1\r\nx\r\nmg m37 q v\r\nmg m37 q\r\nmn\r\n",
            "HD\r\nVA 1\r\nx\r\nHD\r\nMN\r\n");
        yield return Case("md q miss", "md m38 q\r\nmn\r\n",
            "NF\r\nMN\r\n");
        yield return Case("ma q miss", "ma m38 q\r\nmn\r\n",
            "NF\r\nMN\r\n");
        yield return Case("mn extra", "mn foo\r\n",
            "MN\r\n");
        yield return Case("ms P L ignored", "ms m40 1 Pfoo Lbar\r\nx\r\nmg m40 v Pfoo\r\n",
            "HD\r\nVA 1\r\nx\r\n");
        yield return Case("mg k b no b64 out", "ms m43 1\r\nx\r\nmg m43 k b\r\n",
            "HD\r\nCLIENT_ERROR error decoding key\r\n");
        yield return Case("ms invalid mode", "ms m44 1 MZ\r\nx\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\n");
        yield return Case("ma invalid mode", "ma m44 MZ\r\n",
            "CLIENT_ERROR invalid mode for ma M token\r\n");
        yield return Case("ms len too big for int", "ms m45 99999999999999999999\r\nx\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n");
        yield return Case("mg N miss q", "mg m46 N30 q\r\nmn\r\n",
            "HD W\r\nMN\r\n");
        yield return Case("ms noreply token", "ms m47 1 noreply\r\nx\r\n",
            "CLIENT_ERROR invalid flag\r\n");
        yield return Case("mg miss k O", "mg n2 k O5 v\r\nmg n2 k O5 q\r\nmn\r\n",
            "EN kn2 O5\r\nMN\r\n");
        yield return Case("md k O", "ms n3 1\r\nx\r\nmd n3 k O7\r\nmd n3 k O7\r\n",
            "HD\r\nHD kn3 O7\r\nNF kn3 O7\r\n");
        yield return Case("ma q errors", "ms n6 1\r\nx\r\nma n6 q\r\n",
            "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        yield return Case("ms C q exists", "ms n8 1\r\nx\r\nms n8 1 C1 q\r\ny\r\nmn\r\n",
            "HD\r\nEX\r\nMN\r\n");
        yield return Case("ms bad chunk b", "ms n9 1 b\r\nx\r\n",
            "CLIENT_ERROR error decoding key\r\n");
        yield return Case("ms b k", "ms bjEw 1 b k\r\nx\r\nmg n10 v\r\n",
            "HD kbjEw b\r\nVA 1\r\nx\r\n");
        yield return Case("ma T", "ma n11 N0 J1 T100 t v\r\nma n11 T200 t\r\n",
            "VA 1 t100\r\n1\r\nHD t200\r\n");
        yield return Case("ma J without N", "ma n12 J5 v\r\n",
            "NF\r\n");
        yield return Case("ma D too big", "ma n13 D99999999999999999999\r\n",
            "CLIENT_ERROR invalid or duplicate flag\r\n");
        yield return Case("md T without I", "ms n14 1\r\nx\r\nmd n14 T30\r\nmg n14 v\r\n",
            "HD\r\nHD\r\nEN\r\n");
        yield return Case("mg on stale after set", "ms n15 1\r\nx\r\nmd n15 I\r\nms n15 1\r\ny\r\nmg n15 v\r\n",
            "HD\r\nHD\r\nHD\r\nVA 1\r\ny\r\n");
        yield return Case("ma incr wraps", "ms n17 20\r\n18446744073709551615\r\nma n17 v\r\n",
            "HD\r\nVA 1\r\n0\r\n");
        yield return Case("mg T negative", "ms n18 1\r\nx\r\nmg n18 T-1 v\r\nmg n18 v\r\n",
            "HD\r\nVA 1\r\nx\r\nEN\r\n");
        yield return Case("mg with tab key", "mg n\t19 v\r\n",
            "EN\r\n");
        yield return Case("ms zero length", "ms n20 0\r\n\r\nmg n20 v s\r\n",
            "HD\r\nVA 0 s0\r\n\r\n");
        yield return Case("mg R miss", "mg n21 R30 v\r\n",
            "EN\r\n");
        yield return Case("mg R no ttl", "ms n22 1\r\nx\r\nmg n22 R30 v\r\n",
            "HD\r\nVA 1\r\nx\r\n");
        yield return Case("ms T flags F max", "ms n23 1 F4294967295\r\nx\r\nmg n23 f\r\nms n24 1 F4294967296\r\nx\r\n",
            "HD\r\nHD f4294967295\r\nHD\r\n");
        yield return Case("mg t with ttl", "ms n25 1 T100\r\nx\r\nmg n25 t\r\n",
            "HD\r\nHD t100\r\n");
        yield return Case("md C I", "ms n26 1\r\nx\r\nmd n26 C1 I\r\n",
            "HD\r\nEX\r\n");
        yield return Case("ms mode lowercase", "ms n27 1 Ms\r\nx\r\nms n27 1 Ma\r\ny\r\nmg n27 v\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR invalid mode for ms M token\r\nEN\r\n");
        yield return Case("ma mode chars", "ma n28 N0 J10 MI v\r\nma n28 M+ v\r\nma n28 Md v\r\nma n28 Mi v\r\n",
            "VA 2\r\n10\r\nVA 2\r\n11\r\nCLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR invalid mode for ma M token\r\n");
    }

    [TestCaseSource(nameof(Exchanges))]
    public async Task Replies_as_memcached_does(string request, string expected)
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectOnlyAsync(request, expected);
    }

    [Test]
    public async Task Cas_returned_by_ms_is_what_mg_reports_and_what_C_must_match()
    {
        using var client = await _server.ConnectAsync();
        var stored = await RequestCasAsync(client, "ms mc1 1 c\r\nx\r\n", "HD");
        Assert.That(await RequestCasAsync(client, "mg mc1 c\r\n", "HD"), Is.EqualTo(stored));
        await client.ExpectAsync($"ms mc1 1 C{stored + 1}\r\ny\r\n", "EX\r\n");
        var replaced = await RequestCasAsync(client, $"ms mc1 1 C{stored} c\r\nz\r\n", "HD");
        Assert.That(replaced, Is.Not.EqualTo(stored));
        await client.ExpectAsync($"md mc1 C{stored}\r\nmd mc1 C{replaced} q\r\nmg mc1\r\n", "EX\r\nEN\r\n");
    }

    [Test]
    public async Task Invalidated_item_is_served_stale_with_one_winner_until_it_is_stored_again()
    {
        using var client = await _server.ConnectAsync();
        var original = await RequestCasAsync(client, "ms mc2 3 c T0\r\nold\r\n", "HD");
        await client.ExpectAsync("md mc2 I T30\r\n", "HD\r\n");
        await client.SendAsync("mg mc2 c t v\r\n");
        var first = await client.ReadLineAsync();
        Assert.That(first, Does.Match(@"^VA 3 c\d+ t(30|29) X W$"));
        Assert.That(Cas(first), Is.Not.EqualTo(original), "invalidation gives a new cas");
        await client.ExpectReplyAsync("old\r\n");
        await client.ExpectAsync("mg mc2 v\r\n", "VA 3 Z X\r\nold\r\n");

        // A set with an older cas and I is accepted, but stays stale.
        await client.ExpectAsync($"ms mc2 3 C{original} I\r\nnew\r\nmg mc2 v\r\n", "HD\r\nVA 3 X W\r\nnew\r\n");
        await client.ExpectAsync("ms mc2 5\r\nfresh\r\nmg mc2 v\r\n", "HD\r\nVA 5\r\nfresh\r\n");
    }

    [Test]
    public async Task Vivify_on_miss_hands_out_one_win_and_the_empty_item_to_later_readers()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("mg mc3 N30 c t s v\r\n");
        Assert.That(await client.ReadLineAsync(), Does.Match(@"^VA 0 c\d+ t(30|29) s0 W$"));
        await client.ExpectReplyAsync("\r\n");
        await client.ExpectAsync("mg mc3 N30 v\r\n", "VA 0 Z\r\n\r\n");
    }

    [Test]
    public async Task Ma_reports_the_new_cas_and_refuses_a_stale_one()
    {
        using var client = await _server.ConnectAsync();
        var created = await RequestCasAsync(client, "ma mc4 N0 J5 c\r\n", "HD");
        await client.ExpectAsync($"ma mc4 C{created + 1} v\r\n", "EX\r\n");
        await client.SendAsync($"ma mc4 C{created} c v\r\n");
        var line = await client.ReadLineAsync();
        Assert.That(line, Does.Match(@"^VA 1 c\d+$"));
        Assert.That(Cas(line), Is.GreaterThan(created));
        await client.ExpectReplyAsync("6\r\n");
    }

    [Test]
    public async Task Me_shows_the_metadata_of_an_item_without_changing_it()
    {
        using var client = await _server.ConnectAsync();
        var cas = await RequestCasAsync(client, "ms mc5 2 c T0\r\nhi\r\n", "HD");
        // Size is what the item counts against the memory limit, so it differs from memcached's slab item size.
        await client.ExpectAsync("me mc5\r\nme mc5\r\n",
            $"ME mc5 exp=-1 la=0 cas={cas} fetch=no cls=1 size=125\r\nME mc5 exp=-1 la=0 cas={cas} fetch=no cls=1 size=125\r\n");
        await client.ExpectAsync("mg mc5\r\nme mc5\r\n", $"HD\r\nME mc5 exp=-1 la=0 cas={cas} fetch=yes cls=1 size=125\r\n");
        await client.ExpectAsync("me bWM1 b\r\nme mc5-missing\r\n", $"ME bWM1 exp=-1 la=0 cas={cas} fetch=yes cls=1 size=125\r\nEN\r\n");
    }

    [Test]
    public async Task Append_with_N_creates_a_missing_item()
    {
        // memcached 1.6.18 answers NS here; the protocol reference says N vivifies in append mode, and so does Nemcache.
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("ms mc6 1 MA N0 F3\r\nz\r\nms mc6 1 MA N0\r\ny\r\nmg mc6 v f\r\n", "HD\r\nHD\r\nVA 2 f3\r\nzy\r\n");
    }

    [Test]
    public async Task Ms_over_the_item_limit_is_refused_swallowed_and_drops_the_old_value()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("ms mc7 1\r\nx\r\n", "HD\r\n");
        await client.ExpectAsync($"ms mc7 2000000 T0\r\n{new string('x', 2_000_000)}\r\nmg mc7 v\r\nmn\r\n",
            "SERVER_ERROR object too large for cache\r\nEN\r\nMN\r\n");
    }

    [Test]
    public async Task Ms_data_block_arriving_in_pieces_is_stored_once_whole()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("ms mc8 10 T0\r\n01234");
        Assert.That(await client.IsSilentAsync(TimeSpan.FromMilliseconds(200)), Is.True, "nothing is answered before the block is whole");
        await client.ExpectAsync("56789\r\nmg mc8 v\r\n", "HD\r\nVA 10\r\n0123456789\r\n");
    }

    [Test]
    public async Task Meta_and_text_commands_see_the_same_items()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set mc9 7 0 2\r\nab\r\nmg mc9 f v\r\nms mc9 2 F8\r\ncd\r\nget mc9\r\n",
            "STORED\r\nVA 2 f7\r\nab\r\nHD\r\nVALUE mc9 8 2\r\ncd\r\nEND\r\n");
    }

    /// <summary>Sends a request whose reply line is "&lt;code&gt; c&lt;cas&gt;" and returns the CAS.</summary>
    private static async Task<ulong> RequestCasAsync(TextClient client, string request, string code)
    {
        await client.SendAsync(request);
        var line = await client.ReadLineAsync();
        Assert.That(line, Does.Match($@"^{code} c\d+$"));
        return Cas(line);
    }

    private static ulong Cas(string line) => ulong.Parse(CasToken().Match(line).Groups[1].Value);

    [GeneratedRegex(@" c(\d+)")]
    private static partial Regex CasToken();
}

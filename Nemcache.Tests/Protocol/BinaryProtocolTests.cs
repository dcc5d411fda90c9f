using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;
using static Nemcache.Tests.Support.BinaryPacket;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The binary protocol over TCP with raw packets. Statuses, messages, extras and which quiet commands answer were taken
/// from memcached 1.6.18 given the same packets; CAS values differ between servers and are checked for consistency.
/// Broken packets close only their own connection: a bystander binary connection is served after every test.
/// </summary>
[TestFixture]
public sealed class BinaryProtocolTests
{
    private const ushort Success = 0x00, KeyNotFound = 0x01, KeyExists = 0x02, TooLarge = 0x03, InvalidArguments = 0x04,
        NotStored = 0x05, NonNumeric = 0x06, UnknownCommand = 0x81;

    private static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(5);

    private ServerProcess _server = null!;
    private TextClient _bystander = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync();
        _bystander = await _server.ConnectAsync();
        await _bystander.SendAsync(Request(Set, "bystander", StoreExtras(3, 0), "hello"));
        Assert.That((await _bystander.ReadResponseAsync()).Status, Is.EqualTo(Success));
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _bystander.Dispose();
        await _server.DisposeAsync();
    }

    [TearDown]
    public async Task BystanderStillServed()
    {
        Assert.That(_server.HasExited, Is.False, _server.Output);
        await _bystander.SendAsync(Request(Get, "bystander"));
        var reply = await _bystander.ReadResponseAsync();
        Assert.That((reply.Status, reply.ExtrasAsFlags, reply.ValueText), Is.EqualTo((Success, 3u, "hello")));
    }

    private async Task<TextClient> ConnectAsync() => await _server.ConnectAsync();

    [Test]
    public async Task Set_then_getk_returns_flags_key_value_and_the_cas_the_set_answered()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(Set, "b1", StoreExtras(5, 0), "hello"), .. Request(GetK, "b1"), .. Request(Get, "b1")]);
        var set = await client.ReadResponseAsync();
        var getk = await client.ReadResponseAsync();
        var get = await client.ReadResponseAsync();

        Assert.That((set.Magic, set.Opcode, set.Status, set.Value.Length, set.Opaque), Is.EqualTo(((byte)0x81, Set, Success, 0, 0xdeadbeefu)));
        Assert.That(set.Cas, Is.Not.Zero);
        Assert.That((getk.Status, getk.ExtrasAsFlags, getk.KeyText, getk.ValueText, getk.Cas), Is.EqualTo((Success, 5u, "b1", "hello", set.Cas)));
        Assert.That((get.Key.Length, get.ValueText), Is.EqualTo((0, "hello")), "get does not return the key");
    }

    [Test]
    public async Task Quiet_gets_answer_only_hits_and_noop_closes_the_batch()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(Set, "b2", StoreExtras(0, 0), "x"), .. Request(GetQ, "b2-missing"), .. Request(GetKQ, "b2-missing"),
            .. Request(GetKQ, "b2"), .. Request(Noop)]);
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Set));
        var hit = await client.ReadResponseAsync();
        Assert.That((hit.Opcode, hit.KeyText, hit.ValueText), Is.EqualTo((GetKQ, "b2", "x")));
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop));
    }

    [Test]
    public async Task Quiet_storage_commands_answer_only_failures()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(SetQ, "b3", StoreExtras(0, 0), "x"), .. Request(AddQ, "b3", StoreExtras(0, 0), "y"),
            .. Request(DeleteQ, "b3-missing"), .. Request(DeleteQ, "b3"), .. Request(Noop)]);
        var add = await client.ReadResponseAsync();
        var delete = await client.ReadResponseAsync();
        Assert.That((add.Opcode, add.Status, add.ValueText), Is.EqualTo((AddQ, KeyExists, "Data exists for key.")));
        Assert.That((delete.Opcode, delete.Status, delete.ValueText), Is.EqualTo((DeleteQ, KeyNotFound, "Not found")));
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop));
    }

    [Test]
    public async Task Increment_creates_with_the_initial_value_counts_and_refuses_non_numeric_values()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(Increment, "b4", ArithmeticExtras(1, 5, 0xffffffff)), .. Request(Increment, "b4", ArithmeticExtras(1, 5, 0)),
            .. Request(Increment, "b4", ArithmeticExtras(1, 5, 0)), .. Request(Decrement, "b4", ArithmeticExtras(100, 5, 0)),
            .. Request(Set, "b4-text", StoreExtras(0, 0), "hello"), .. Request(Increment, "b4-text", ArithmeticExtras(1, 0, 0))]);
        var noCreate = await client.ReadResponseAsync();
        var created = await client.ReadResponseAsync();
        var incremented = await client.ReadResponseAsync();
        var decremented = await client.ReadResponseAsync();
        await client.ReadResponseAsync();
        var nonNumeric = await client.ReadResponseAsync();

        Assert.That((noCreate.Status, noCreate.ValueText), Is.EqualTo((KeyNotFound, "Not found")));
        Assert.That((created.Status, created.ValueAsNumber, incremented.ValueAsNumber, decremented.ValueAsNumber), Is.EqualTo((Success, 5UL, 6UL, 0UL)));
        Assert.That(incremented.Cas, Is.GreaterThan(created.Cas));
        Assert.That((nonNumeric.Status, nonNumeric.ValueText), Is.EqualTo((NonNumeric, "Non-numeric server-side value for incr or decr")));
    }

    [Test]
    public async Task Every_storage_command_honours_a_cas()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Set, "b5", StoreExtras(0, 0), "b"));
        var cas = (await client.ReadResponseAsync()).Cas;

        async Task<BinaryResponse> Send(byte[] request)
        {
            await client.SendAsync(request);
            return await client.ReadResponseAsync();
        }
        Assert.That((await Send(Request(Replace, "b5", StoreExtras(0, 0), "x", cas: cas + 100))).Status, Is.EqualTo(KeyExists));
        Assert.That((await Send(Request(Append, "b5", value: "c", cas: cas + 100))).Status, Is.EqualTo(KeyExists));
        var prepended = await Send(Request(Prepend, "b5", value: "a", cas: cas));
        Assert.That(prepended.Status, Is.EqualTo(Success));
        Assert.That(prepended.Cas, Is.Not.EqualTo(cas), "a change gives a new cas");
        Assert.That((await Send(Request(Add, "b5-missing", StoreExtras(0, 0), "x", cas: 1))).Status, Is.EqualTo(KeyNotFound));
        Assert.That((await Send(Request(Delete, "b5", cas: cas))).Status, Is.EqualTo(KeyExists));
        Assert.That((await Send(Request(Get, "b5"))).ValueText, Is.EqualTo("ab"));
        Assert.That((await Send(Request(Delete, "b5", cas: prepended.Cas))).Status, Is.EqualTo(Success));
        Assert.That((await Send(Request(Append, "b5", value: "c"))).Status, Is.EqualTo(NotStored));
    }

    [Test]
    public async Task Touch_gat_and_gatk_give_a_new_expiry_and_answer_like_get()
    {
        using var client = await ConnectAsync();
        var expiry = BigEndian(100);
        await client.SendAsync([.. Request(Set, "b6", StoreExtras(9, 0), "v"), .. Request(Touch, "b6", expiry), .. Request(Gat, "b6", expiry),
            .. Request(GatK, "b6", expiry), .. Request(GatQ, "b6-missing", expiry), .. Request(GatK, "b6-missing", expiry),
            .. Request(Touch, "b6", BigEndian(2_678_401))]);
        await client.ReadResponseAsync();
        var touch = await client.ReadResponseAsync();
        var gat = await client.ReadResponseAsync();
        var gatk = await client.ReadResponseAsync();
        var gatkMiss = await client.ReadResponseAsync();
        var expiredByTouch = await client.ReadResponseAsync();

        Assert.That((touch.Status, touch.ExtrasAsFlags, touch.Value.Length), Is.EqualTo((Success, 9u, 0)));
        Assert.That((gat.ExtrasAsFlags, gat.Key.Length, gat.ValueText), Is.EqualTo((9u, 0, "v")));
        Assert.That((gatk.KeyText, gatk.ValueText), Is.EqualTo(("b6", "v")));
        Assert.That((gatkMiss.Opcode, gatkMiss.Status, gatkMiss.KeyText, gatkMiss.Value.Length), Is.EqualTo((GatK, KeyNotFound, "b6-missing", 0)));
        Assert.That(expiredByTouch.Status, Is.EqualTo(Success), "an absolute expiry in the past is accepted…");
        await client.SendAsync(Request(Get, "b6"));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(KeyNotFound), "…and expires the item");
    }

    [Test]
    public async Task Version_verbosity_noop_flush_and_quit()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(BinaryPacket.Version), .. Request(Verbosity, extras: BigEndian(1)), .. Request(Noop),
            .. Request(Set, "b7", StoreExtras(0, 0), "x"), .. Request(Flush), .. Request(Get, "b7"), .. Request(Quit), .. Request(Noop)]);
        Assert.That((await client.ReadResponseAsync()).ValueText, Is.EqualTo(ServerContext.Version));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(Success));
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop));
        await client.ReadResponseAsync();
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Flush));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(KeyNotFound));
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Quit));
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True, "nothing after quit is answered");

        // The flush emptied the cache for every connection; put the bystander's item back.
        await _bystander.SendAsync(Request(Set, "bystander", StoreExtras(3, 0), "hello"));
        await _bystander.ReadResponseAsync();
    }

    [Test]
    public async Task Quitq_closes_without_a_reply()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(QuitQ), .. Request(Noop)]);
        Assert.That(await client.IsSilentAsync(CloseWithin), Is.True, "nothing was sent");
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);
    }

    [Test]
    public async Task Stat_reports_what_text_stats_reports_and_ends_with_an_empty_packet()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Stat));
        var binaryNames = new List<string>();
        for (var reply = await client.ReadResponseAsync(); reply.Key.Length > 0; reply = await client.ReadResponseAsync())
        {
            Assert.That((reply.Opcode, reply.Status), Is.EqualTo((Stat, Success)));
            binaryNames.Add(reply.KeyText);
        }

        using var text = await ConnectAsync();
        await text.SendAsync("stats\r\n");
        var textNames = new List<string>();
        for (var line = await text.ReadLineAsync(); line != "END"; line = await text.ReadLineAsync())
        {
            textNames.Add(line.Split(' ')[1]);
        }
        Assert.That(binaryNames, Is.EqualTo(textNames).And.Contains("curr_items"));
    }

    [Test]
    public async Task Stat_groups_settings_reset_and_unknown()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Stat, "settings"));
        var settings = new Dictionary<string, string>();
        for (var reply = await client.ReadResponseAsync(); reply.Key.Length > 0; reply = await client.ReadResponseAsync())
        {
            settings[reply.KeyText] = reply.ValueText;
        }
        Assert.That(settings["item_size_max"], Is.EqualTo("1048576"));

        await client.SendAsync([.. Request(Stat, "reset"), .. Request(Stat, "bogus")]);
        var reset = await client.ReadResponseAsync();
        var bogus = await client.ReadResponseAsync();
        Assert.That((reset.Status, reset.Key.Length), Is.EqualTo((Success, 0)));
        Assert.That((bogus.Status, bogus.ValueText), Is.EqualTo((KeyNotFound, "Not found")));
    }

    [Test]
    public async Task Binary_and_text_connections_share_one_cache()
    {
        using var binary = await ConnectAsync();
        using var text = await ConnectAsync();
        await binary.SendAsync(Request(Set, "b8", StoreExtras(4, 0), "shared"));
        await binary.ReadResponseAsync();
        await text.ExpectAsync("get b8\r\n", "VALUE b8 4 6\r\nshared\r\nEND\r\n");
    }

    [Test]
    public async Task Unknown_opcode_is_answered_and_its_body_skipped()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(0x50, "b9", value: "abc"), .. Request(Noop)]);
        var unknown = await client.ReadResponseAsync();
        Assert.That((unknown.Opcode, unknown.Status, unknown.ValueText), Is.EqualTo(((byte)0x50, UnknownCommand, "Unknown command")));
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop));
    }

    [Test]
    public async Task Malformed_header_is_answered_invalid_arguments_and_closes_the_connection()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(Get, "b10", bodyLength: 10), .. "12345678"u8.ToArray(), .. Request(Noop)]);
        var reply = await client.ReadResponseAsync();
        Assert.That((reply.Opcode, reply.Status, reply.ValueText), Is.EqualTo((Get, InvalidArguments, "Invalid arguments")));
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);
    }

    [Test]
    public async Task Key_longer_than_250_bytes_closes_the_connection()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Get, new string('k', 251)));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(InvalidArguments));
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);
    }

    [Test]
    public async Task Bad_magic_after_a_good_packet_closes_the_connection()
    {
        using var client = await ConnectAsync();
        await client.SendAsync([.. Request(Noop), .. Request(Noop, magic: 0x81), .. Request(Noop)]);
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop));
        Assert.That(await client.IsSilentAsync(CloseWithin), Is.True, "only the first noop was answered");
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);
    }

    [Test]
    public async Task Oversized_value_is_refused_discarded_and_drops_the_old_value_and_the_connection_goes_on()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Set, "b11", StoreExtras(0, 0), "old"));
        await client.ReadResponseAsync();
        await client.SendAsync([.. Request(Set, "b11", StoreExtras(0, 0), new string('x', 2_000_000)), .. Request(Get, "b11"),
            .. Request(Noop)]);
        var refused = await client.ReadResponseAsync();
        Assert.That((refused.Status, refused.ValueText), Is.EqualTo((TooLarge, "Too large.")));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(KeyNotFound), "the old value is gone");
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(Noop), "the value was discarded, not taken for packets");
    }

    [Test]
    public async Task Body_length_far_beyond_any_item_on_a_get_closes_at_once_without_waiting_for_the_body()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(Request(Get, "b12", bodyLength: 0x7fffffff));
        Assert.That((await client.ReadResponseAsync()).Status, Is.EqualTo(InvalidArguments));
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);
    }

    [Test]
    public async Task Truncated_packet_then_end_of_input_closes_cleanly_and_stores_nothing()
    {
        using var client = await ConnectAsync();
        var set = Request(Set, "b13", StoreExtras(0, 0), "value");
        await client.SendAsync(set[..(set.Length - 2)]);
        client.EndSending();
        Assert.That(await client.IsSilentAsync(CloseWithin), Is.True, "nothing was answered");
        Assert.That(await client.IsClosedByServerAsync(CloseWithin), Is.True);

        using var header = await ConnectAsync();
        await header.SendAsync(Request(Noop)[..10]);
        header.EndSending();
        Assert.That(await header.IsSilentAsync(CloseWithin), Is.True);
        Assert.That(await header.IsClosedByServerAsync(CloseWithin), Is.True);

        await _bystander.SendAsync(Request(Get, "b13"));
        Assert.That((await _bystander.ReadResponseAsync()).Status, Is.EqualTo(KeyNotFound));
    }
}

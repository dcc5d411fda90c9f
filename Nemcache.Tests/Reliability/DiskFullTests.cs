using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Service.Configuration;
using Nemcache.Service.Hosting;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Binary;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// When persistence cannot write, mutations are refused with SERVER_ERROR before they change the cache, reads go on,
/// and writes are accepted again once the plugin has repaired its log. tests/full_disk.py runs the long form.
/// </summary>
[TestFixture]
public sealed class DiskFullTests
{
    private const string Refused = "SERVER_ERROR persistence failed\r\n";

    /// <summary>Every mutating command form of the three protocols, with the items it would change.</summary>
    private static readonly string[] TextMutations =
    [
        "set k 0 0 3\r\nnew\r\n", "add a 0 0 1\r\nx\r\n", "replace k 0 0 1\r\nx\r\n", "append k 0 0 1\r\nx\r\n",
        "prepend k 0 0 1\r\nx\r\n", "cas k 0 0 1 1\r\nx\r\n", "delete k\r\n", "incr n 1\r\n", "decr n 1\r\n",
        "touch k 10\r\n", "gat 10 k\r\n", "gats 10 k n\r\n", "flush_all\r\n", "flush_all 10\r\n",
        "set k 0 0 1 noreply\r\nx\r\n", "delete k noreply\r\n", "incr n 1 noreply\r\n",
        // A value over the item size limit: memcached drops the old one, which here would be a change no log holds.
        $"set k 0 0 {OverLimit}\r\n{new string('x', OverLimit)}\r\n",
        $"set k 0 0 {OverLimit} noreply\r\n{new string('x', OverLimit)}\r\n",
        "ms k 1\r\nx\r\n", "ms k 1 q\r\nx\r\n", "ms k 1 MA\r\nx\r\n", "ms a 1 ME\r\nx\r\n", "ms k 1 I C1\r\nx\r\n",
        $"ms k {OverLimit}\r\n{new string('x', OverLimit)}\r\n", $"ms k {OverLimit} ME\r\n{new string('x', OverLimit)}\r\n",
        "md k\r\n", "md k q\r\n", "md k I T30\r\n", "ma n\r\n", "ma n MD q\r\n", "ma missing N0 J5\r\n",
        "mg k T30\r\n", "mg k v T30 q\r\n", "mg missing N30\r\n", "mg missing v N30 q\r\n",
    ];

    private const int OverLimit = 2 * 1024 * 1024;

    private static IEnumerable<TestCaseData> TextMutationCases() => TextMutations.Select(mutation =>
        new TestCaseData(mutation).SetName($"A_text_or_meta_mutation_is_refused_while_persistence_fails_and_changes_nothing({mutation[..mutation.IndexOf('\r')]})"));

    [TestCaseSource(nameof(TextMutationCases))]
    public async Task A_text_or_meta_mutation_is_refused_while_persistence_fails_and_changes_nothing(string mutation)
    {
        await using var server = await FailingServer.StartAsync();
        var processor = new TextProtocolProcessor(server.Context);
        var before = server.Items();

        Assert.That(Run(processor, mutation + "mn\r\n"), Is.EqualTo(Refused + "MN\r\n"), "refused, and the data block is not taken for a command");
        Assert.That(server.Items(), Is.EqualTo(before));
    }

    [Test]
    public async Task Reads_go_on_and_writes_come_back_once_the_log_is_repaired()
    {
        await using var server = await FailingServer.StartAsync();
        var processor = new TextProtocolProcessor(server.Context);

        Assert.That(Run(processor, "get k n a\r\nmg k v\r\nmg k s t\r\nme k\r\n"), Does.StartWith(
            "VALUE k 5 3\r\nold\r\nVALUE n 0 1\r\n1\r\nEND\r\nVA 3\r\nold\r\nHD s3 t-1\r\nME k "));

        await server.Persistence.CompactAsync();
        Assert.That(server.Persistence.Failure, Is.Null);
        Assert.That(Run(processor, "set k 0 0 3\r\nnew\r\nget k\r\n"), Is.EqualTo("STORED\r\nVALUE k 0 3\r\nnew\r\nEND\r\n"));
    }

    private static IEnumerable<TestCaseData> BinaryMutations()
    {
        TestCaseData Case(string name, byte[] packet) => new TestCaseData(packet).SetName($"A_binary_mutation_is_refused_while_persistence_fails_and_changes_nothing({name})");
        var storeExtras = BinaryPacket.StoreExtras(0, 0);
        yield return Case("set", BinaryPacket.Request(BinaryPacket.Set, "k", storeExtras, "new"));
        yield return Case("setq", BinaryPacket.Request(BinaryPacket.SetQ, "k", storeExtras, "new"));
        yield return Case("add", BinaryPacket.Request(BinaryPacket.Add, "a", storeExtras, "new"));
        yield return Case("addq", BinaryPacket.Request(BinaryPacket.AddQ, "a", storeExtras, "new"));
        yield return Case("replace", BinaryPacket.Request(BinaryPacket.Replace, "k", storeExtras, "new"));
        yield return Case("append", BinaryPacket.Request(BinaryPacket.Append, "k", value: "x"));
        yield return Case("prepend", BinaryPacket.Request(BinaryPacket.Prepend, "k", value: "x"));
        yield return Case("set with cas", BinaryPacket.Request(BinaryPacket.Set, "k", storeExtras, "new", cas: 1));
        yield return Case("oversized set", BinaryPacket.Request(BinaryPacket.Set, "k", storeExtras, new string('x', OverLimit)));
        yield return Case("oversized setq", BinaryPacket.Request(BinaryPacket.SetQ, "k", storeExtras, new string('x', OverLimit)));
        yield return Case("delete", BinaryPacket.Request(BinaryPacket.Delete, "k"));
        yield return Case("deleteq", BinaryPacket.Request(BinaryPacket.DeleteQ, "k"));
        yield return Case("increment", BinaryPacket.Request(BinaryPacket.Increment, "n", BinaryPacket.ArithmeticExtras(1, 0, 0xffffffff)));
        yield return Case("increment that creates", BinaryPacket.Request(BinaryPacket.Increment, "missing", BinaryPacket.ArithmeticExtras(1, 5, 0)));
        yield return Case("decrement", BinaryPacket.Request(BinaryPacket.Decrement, "n", BinaryPacket.ArithmeticExtras(1, 0, 0xffffffff)));
        yield return Case("touch", BinaryPacket.Request(BinaryPacket.Touch, "k", BinaryPacket.BigEndian(30)));
        yield return Case("gat", BinaryPacket.Request(BinaryPacket.Gat, "k", BinaryPacket.BigEndian(30)));
        yield return Case("gatq", BinaryPacket.Request(BinaryPacket.GatQ, "k", BinaryPacket.BigEndian(30)));
        yield return Case("gatk", BinaryPacket.Request(BinaryPacket.GatK, "k", BinaryPacket.BigEndian(30)));
        yield return Case("flush", BinaryPacket.Request(BinaryPacket.Flush));
        yield return Case("flush with delay", BinaryPacket.Request(BinaryPacket.Flush, extras: BinaryPacket.BigEndian(10)));
    }

    [TestCaseSource(nameof(BinaryMutations))]
    public async Task A_binary_mutation_is_refused_while_persistence_fails_and_changes_nothing(byte[] packet)
    {
        await using var server = await FailingServer.StartAsync();
        var processor = new BinaryProtocolProcessor(server.Context);
        var before = server.Items();

        var input = new ReadOnlySequence<byte>([.. packet, .. BinaryPacket.Request(BinaryPacket.Noop)]);
        var output = new ArrayBufferWriter<byte>();
        var outcome = processor.Process(ref input, output);

        var replies = output.WrittenSpan.ToArray();
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(replies.AsSpan(6)), Is.EqualTo((ushort)BinaryStatus.InternalError));
        var next = replies.AsSpan(24 + (int)BinaryPrimitives.ReadUInt32BigEndian(replies.AsSpan(8)));
        Assert.That(next.Length > 1 && next[1] == BinaryPacket.Noop, Is.True, "the connection goes on: the noop after it is answered");
        Assert.That(outcome.HasFlag(ProcessOutcome.Close), Is.False);
        Assert.That(server.Items(), Is.EqualTo(before));
    }

    /// <summary>A real full filesystem: tmpfs with size=, which needs root; elsewhere the test is ignored and the
    /// processor test above, with StreamDurabilityTests' simulated ENOSPC, covers the path.</summary>
    [TestCase("0", TestName = "A_full_tmpfs_gets_server_error_keeps_what_was_stored_and_recovers_when_space_comes_back(stream)")]
    [TestCase("1", TestName = "A_full_tmpfs_gets_server_error_keeps_what_was_stored_and_recovers_when_space_comes_back(bitcask)")]
    [Platform(Exclude = "Win")]
    public async Task A_full_tmpfs_gets_server_error_keeps_what_was_stored_and_recovers_when_space_comes_back(string useBitcask)
    {
        var mountPoint = ServerProcess.NewDataDirectory();
        Directory.CreateDirectory(mountPoint);
        if (!await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint))
        {
            Directory.Delete(mountPoint);
            Assert.Ignore("this machine refuses to mount a tmpfs (needs root)");
        }
        try
        {
            var filler = Path.Combine(mountPoint, "filler");
            await File.WriteAllBytesAsync(filler, new byte[600 * 1024]);
            var environment = new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = useBitcask };
            await using var server = await ServerProcess.StartAsync(Path.Combine(mountPoint, "data"), environment);
            var stored = new List<int>();
            var value = new string('v', 1000);
            using (var writer = await server.ConnectAsync())
            {
                for (var i = 0; ; i++)
                {
                    await writer.SendAsync($"set k{i} 0 0 {value.Length}\r\n{value}\r\n");
                    try
                    {
                        if (await writer.ReadLineAsync() != "STORED")
                        {
                            Assert.Fail($"set k{i} was answered otherwise than STORED before the disk was full");
                        }
                    }
                    catch (Exception ex) when (ex is IOException or SocketException
                                               || (ex is AssertionException closed && closed.Message.StartsWith("connection closed")))
                    {
                        // The write that met the full disk: its reply cannot promise durability, so there is none.
                        break;
                    }
                    stored.Add(i);
                }
            }
            Assert.That(stored, Is.Not.Empty);

            using var client = await server.ConnectAsync();
            await client.ExpectAsync("set more 0 0 1\r\nx\r\ndelete k0\r\n", Refused + Refused);
            var found = await client.GetManyAsync(stored.Select(i => $"k{i}"));
            Assert.That(found.Keys, Is.EquivalentTo(stored.Select(i => $"k{i}")));

            // A crash while the disk is still full: the server must start again on it and serve every acknowledged key.
            await server.KillAsync();
            await using var restarted = await ServerProcess.StartAsync(Path.Combine(mountPoint, "data"), environment);
            using var again = await restarted.ConnectAsync();
            var back = await again.GetManyAsync(stored.Select(i => $"k{i}"));
            Assert.That(back.Keys, Is.EquivalentTo(stored.Select(i => $"k{i}")), restarted.Output);

            File.Delete(filler);
            var accepted = Stopwatch.StartNew();
            while (true)
            {
                await again.SendAsync("set more 0 0 1\r\nx\r\n");
                var reply = await again.ReadLineAsync();
                if (reply == "STORED")
                {
                    break;
                }
                Assert.That(accepted.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), $"writes still refused after space came back: {reply}");
                await Task.Delay(100);
            }
            Assert.That(await restarted.TerminateAsync(), Is.EqualTo(0), restarted.Output);
        }
        finally
        {
            await RunAsync("umount", mountPoint);
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    private static string Run(TextProtocolProcessor processor, string request)
    {
        var input = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(request));
        var output = new ArrayBufferWriter<byte>();
        processor.Process(ref input, output);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    private static async Task<bool> RunAsync(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }

    /// <summary>
    /// The real wiring in process: the stream plugin started by the host's PersistenceService on a fresh data
    /// directory, holding k (flags 5, "old") and n ("1"), then a write that met a full disk (the plugin's own test
    /// hook), so that the plugin now reports a failure.
    /// </summary>
    private sealed class FailingServer : IAsyncDisposable
    {
        private readonly string _directory;

        private FailingServer(string directory, ServerContext context)
        {
            _directory = directory;
            Context = context;
        }

        public ServerContext Context { get; }
        public StreamArchiver Persistence => (StreamArchiver)Context.Persistence!;

        public static async Task<FailingServer> StartAsync()
        {
            var directory = ServerProcess.NewDataDirectory();
            var settings = new ServerSettings { DataDirectory = directory, MaxItemSize = 1024 * 1024 };
            var cache = new MemCache(settings.ToCacheOptions());
            var persistence = PersistenceSelection.Create(settings, NullLoggerFactory.Instance);
            var context = new ServerContext(cache, persistence, settings, new ServerStatistics());
            await new PersistenceService(context, PersistenceSelection.CreateSwitch(settings, persistence, NullLoggerFactory.Instance), NullLogger<PersistenceService>.Instance).StartAsync(CancellationToken.None);
            var server = new FailingServer(directory, context);

            var processor = new TextProtocolProcessor(context);
            Assert.That(Run(processor, "set k 5 0 3\r\nold\r\nset n 0 0 1\r\n1\r\n"), Is.EqualTo("STORED\r\nSTORED\r\n"));
            await persistence.CommitAsync();
            server.Persistence.SimulateDiskFull(bytesLeft: 0);
            Run(processor, "set lost 0 0 1\r\nx\r\n");
            // The record reaches the file at the commit a connection makes before it replies.
            Assert.ThrowsAsync<PersistenceException>(async () => await persistence.CommitAsync(), "the commit meets the full disk");
            Assert.That(persistence.Failure, Is.Not.Null, "the write met the full disk");
            return server;
        }

        /// <summary>Every live item with all that a change could alter: value, flags, expiry and CAS.</summary>
        public string[] Items() => Context.Cache.SnapshotItems()
            .Select(item => $"{Encoding.ASCII.GetString(item.Key)}={Encoding.ASCII.GetString(item.Value)} f{item.Flags} e{item.ExpiresAt} c{item.Cas}")
            .Order()
            .ToArray();

        public async ValueTask DisposeAsync()
        {
            await Context.Persistence!.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }
}

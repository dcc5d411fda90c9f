using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Binary;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using Nemcache.Storage.Persistence;
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

    [Test]
    public void Every_kind_of_mutation_is_refused_while_persistence_fails_and_changes_nothing()
    {
        var persistence = new FailingPersistence();
        var settings = new ServerSettings();
        var cache = new MemCache(settings.ToCacheOptions());
        var processor = new TextProtocolProcessor(new ServerContext(cache, persistence, settings, new ServerStatistics()));
        Assert.That(Run(processor, "set k 5 0 3\r\nold\r\nset n 0 0 1\r\n1\r\n"), Is.EqualTo("STORED\r\nSTORED\r\n"));

        persistence.Failure = "No space left on device";
        var mutations = new[]
        {
            "set k 0 0 3\r\nnew\r\n", "add a 0 0 1\r\nx\r\n", "replace k 0 0 1\r\nx\r\n", "append k 0 0 1\r\nx\r\n",
            "prepend k 0 0 1\r\nx\r\n", "cas k 0 0 1 1\r\nx\r\n", "delete k\r\n", "incr n 1\r\n", "decr n 1\r\n",
            "touch k 10\r\n", "gat 10 k\r\n", "flush_all\r\n", "set k 0 0 1 noreply\r\nx\r\n",
            "ms k 1\r\nx\r\n", "ms k 1 q\r\nx\r\n", "md k\r\n", "ma n\r\n",
        };
        foreach (var mutation in mutations)
        {
            Assert.That(Run(processor, mutation), Is.EqualTo(Refused), mutation);
        }
        Assert.That(Run(processor, "get k n a\r\n"), Is.EqualTo("VALUE k 5 3\r\nold\r\nVALUE n 0 1\r\n1\r\nEND\r\n"));

        persistence.Failure = null;
        Assert.That(Run(processor, "set k 0 0 3\r\nnew\r\nget k\r\n"), Is.EqualTo("STORED\r\nVALUE k 0 3\r\nnew\r\nEND\r\n"));
    }

    [Test]
    public void Binary_mutations_are_refused_with_an_internal_error_while_persistence_fails()
    {
        var persistence = new FailingPersistence();
        var settings = new ServerSettings();
        var cache = new MemCache(settings.ToCacheOptions());
        var processor = new BinaryProtocolProcessor(new ServerContext(cache, persistence, settings, new ServerStatistics()));
        cache.Store(StoreMode.Set, "k"u8, 0, 0, "old"u8.ToArray());
        persistence.Failure = "No space left on device";

        var output = new ArrayBufferWriter<byte>();
        var input = new ReadOnlySequence<byte>(BinaryPacket.Request(BinaryPacket.Set, "k", new byte[8], "new"));
        processor.Process(ref input, output);

        var status = BinaryPrimitives.ReadUInt16BigEndian(output.WrittenSpan[6..8]);
        Assert.That(status, Is.EqualTo((ushort)BinaryStatus.InternalError));
        Assert.That(cache.TryGet("k"u8, out var item) ? Encoding.ASCII.GetString(item.Value) : null, Is.EqualTo("old"));
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

    /// <summary>A plugin whose write failure the test sets and clears.</summary>
    private sealed class FailingPersistence : ICachePersistence
    {
        public string Name => "failing";
        public string? Failure { get; set; }
        public void OnChange(in CacheChange change) { }
        public RestoreSummary Restore(MemCache cache) => new(0, 0, TimeSpan.Zero, "");
        public RestoreSummary Adopt(MemCache cache) => Restore(cache);
        public bool OwnsFile(string fileName) => false;
        public ValueTask CommitAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public Task CompactAsync() => Task.CompletedTask;
        public IEnumerable<KeyValuePair<string, string>> GetStats() => [];
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

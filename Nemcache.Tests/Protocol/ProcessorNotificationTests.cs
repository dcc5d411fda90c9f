using System.Buffers;
using System.Text;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Binary;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using static Nemcache.Tests.Support.BinaryPacket;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The binary and meta processors on their own, against a cache with a recording observer: every change they make
/// reaches persistence as the same notifications the text commands send, the batch reports it so the connection
/// commits, and a packet is answered the same however its bytes arrive.
/// </summary>
[TestFixture]
public sealed class ProcessorNotificationTests
{
    private MemCache _cache = null!;
    private ServerContext _context = null!;
    private List<CacheChangeKind> _changes = null!;

    [SetUp]
    public void CreateCache()
    {
        var settings = new ServerSettings();
        _cache = new MemCache(settings.ToCacheOptions());
        _context = new ServerContext(_cache, null, settings, new ServerStatistics());
        _changes = [];
        _cache.Subscribe(new Recorder(_changes));
    }

    [Test]
    public void Every_meta_change_is_published_and_marks_the_batch_mutated()
    {
        var (reply, outcome) = Run(new TextProtocolProcessor(_context), Encoding.ASCII.GetBytes(
            "ms a 1 T0\r\nx\r\nmd a I T30\r\nma n N0 J1\r\nmg v N30\r\nmg a T60\r\nmd a q\r\nms b 1 MA N0\r\ny\r\n"));
        Assert.That(reply, Is.EqualTo("HD\r\nHD\r\nHD\r\nHD W\r\nHD X W\r\nHD\r\n"));
        Assert.That(_changes, Is.EqualTo(new[]
        {
            CacheChangeKind.Store, CacheChangeKind.Touch, CacheChangeKind.Store, CacheChangeKind.Store,
            CacheChangeKind.Touch, CacheChangeKind.Delete, CacheChangeKind.Store,
        }));
        Assert.That(outcome & ProcessOutcome.Mutated, Is.EqualTo(ProcessOutcome.Mutated));
    }

    [Test]
    public void Meta_reads_change_nothing_and_ask_for_no_commit()
    {
        _cache.Store(StoreMode.Set, "a"u8, 0, 0, [1]);
        _changes.Clear();
        var (reply, outcome) = Run(new TextProtocolProcessor(_context), Encoding.ASCII.GetBytes("mg a s\r\nmg b v\r\nme a\r\nmn\r\n"));
        Assert.That(reply, Does.StartWith("HD s1\r\nEN\r\nME a ").And.EndWith("MN\r\n"));
        Assert.That((_changes.Count, outcome), Is.EqualTo((0, ProcessOutcome.None)));
    }

    [Test]
    public void Every_binary_change_is_published_and_marks_the_batch_mutated()
    {
        var (_, outcome) = Run(new BinaryProtocolProcessor(_context), BinaryScript);
        Assert.That(_changes, Is.EqualTo(new[]
        {
            CacheChangeKind.Store, CacheChangeKind.Store, CacheChangeKind.Store, CacheChangeKind.Store,
            CacheChangeKind.Touch, CacheChangeKind.Delete, CacheChangeKind.Flush,
        }));
        Assert.That(outcome & ProcessOutcome.Mutated, Is.EqualTo(ProcessOutcome.Mutated));
    }

    [Test]
    public void Binary_packets_are_answered_the_same_however_they_are_split([Range(1, 30)] int pieceSize)
    {
        var whole = Run(new BinaryProtocolProcessor(_context), BinaryScript).Reply;
        CreateCache();
        Assert.That(Run(new BinaryProtocolProcessor(_context), BinaryScript, pieceSize).Reply, Is.EqualTo(whole));
    }

    private static byte[] BinaryScript =>
    [
        .. Request(Set, "k", StoreExtras(1, 0), "v"), .. Request(Append, "k", value: "w"), .. Request(GetK, "k"),
        .. Request(Increment, "n", ArithmeticExtras(1, 7, 0)), .. Request(Increment, "n", ArithmeticExtras(2, 0, 0)),
        .. Request(Touch, "k", BigEndian(100)), .. Request(Delete, "k"), .. Request(GetQ, "k"), .. Request(Flush),
        .. Request(Noop),
    ];

    /// <summary>Feeds the input in pieces of <paramref name="pieceSize"/> bytes, keeping what was not consumed.</summary>
    private static (string Reply, ProcessOutcome Outcome) Run(IProtocolProcessor processor, byte[] script, int pieceSize = int.MaxValue)
    {
        var output = new ArrayBufferWriter<byte>();
        var outcome = ProcessOutcome.None;
        var pending = Array.Empty<byte>();
        foreach (var piece in script.Chunk(pieceSize))
        {
            pending = [.. pending, .. piece];
            var input = new ReadOnlySequence<byte>(pending);
            outcome |= processor.Process(ref input, output);
            pending = input.ToArray();
        }
        Assert.That(pending, Is.Empty, "everything was consumed");
        return (Encoding.Latin1.GetString(output.WrittenSpan), outcome);
    }

    private sealed class Recorder(List<CacheChangeKind> changes) : ICacheObserver
    {
        public void OnChange(in CacheChange change) => changes.Add(change.Kind);
    }
}

using System.Text;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Benchmarks;

/// <summary>The stream log's record codec and append path, and a restore of a 100k-item log.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class StreamLogBenchmarks
{
    private const int RestoreItems = 100_000;
    private string _directory = "";
    private string _restoreDirectory = "";
    private StreamArchiver _archiver = null!;
    private CacheChange _store;
    private byte[] _encoded = [];
    private byte[] _frameBuffer = new byte[1024];

    [GlobalSetup]
    public void Setup()
    {
        _store = CacheChange.Stored(Encoding.ASCII.GetBytes("bench:key:0001"), new byte[100], 7, 0, 42);
        _encoded = LogRecord.ForChange(_store, 1)!.ToByteArray();

        _directory = Directory.CreateTempSubdirectory("nemcache-bench-").FullName;
        _archiver = new StreamArchiver(new PersistenceOptions { DataDirectory = _directory, Sync = SyncMode.None },
            new StreamArchiverOptions(), NullLogger<StreamArchiver>.Instance);
        _archiver.Restore(new MemCache(new CacheOptions()));

        _restoreDirectory = Directory.CreateTempSubdirectory("nemcache-bench-restore-").FullName;
        var cache = new MemCache(new CacheOptions { MemoryLimitBytes = 1L << 30 });
        var filler = new StreamArchiver(new PersistenceOptions { DataDirectory = _restoreDirectory, Sync = SyncMode.None },
            new StreamArchiverOptions(), NullLogger<StreamArchiver>.Instance);
        filler.Restore(cache);
        cache.Subscribe(filler);
        var value = new byte[100];
        for (var i = 0; i < RestoreItems; i++)
        {
            cache.Store(StoreMode.Set, Encoding.ASCII.GetBytes($"key{i}"), 0, 0, value);
        }
        filler.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _archiver.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
        Directory.Delete(_restoreDirectory, recursive: true);
    }

    [Benchmark]
    public int EncodeStoreRecord()
    {
        var record = LogRecord.ForChange(_store, 1)!;
        var size = record.CalculateSize();
        record.WriteTo(_frameBuffer.AsSpan(0, size));
        return size;
    }

    [Benchmark]
    public uint DecodeStoreRecord() => LogRecord.Parser.ParseFrom(_encoded).Store.Flags;

    /// <summary>OnChange as the cache calls it: encode, frame, CRC and one write to the OS (sync mode none).</summary>
    [Benchmark]
    public void AppendStoreRecord() => _archiver.OnChange(_store);

    [Benchmark]
    public long Restore100kItems()
    {
        using var archiver = new DisposingArchiver(_restoreDirectory);
        return archiver.Restore();
    }

    private sealed class DisposingArchiver(string directory) : IDisposable
    {
        private readonly StreamArchiver _archiver = new(new PersistenceOptions { DataDirectory = directory, Sync = SyncMode.None },
            new StreamArchiverOptions(), NullLogger<StreamArchiver>.Instance);

        public long Restore() => _archiver.Restore(new MemCache(new CacheOptions { MemoryLimitBytes = 1L << 30 })).Items;

        public void Dispose() => _archiver.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

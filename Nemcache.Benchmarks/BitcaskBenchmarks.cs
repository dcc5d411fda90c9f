using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;

namespace Nemcache.Benchmarks;

/// <summary>The Bitcask engine's hot paths: record codec, append, keydir lookup, and recovery of a 100k-key directory.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class BitcaskBenchmarks
{
    private const int RecoveryKeys = 100_000;
    private readonly byte[] _key = Encoding.ASCII.GetBytes("bench:key:0001");
    private readonly byte[] _value = new byte[100];
    private readonly byte[] _record = new byte[1024];
    private int _recordLength;
    private string _directory = "";
    private string _recoveryDirectory = "";
    private Bitcask _engine = null!;
    private readonly KeyDir _keyDir = new();

    [GlobalSetup]
    public void Setup()
    {
        _recordLength = DataRecord.Encode(_record, RecordType.Put, 1, 0, 7, _key, _value);

        _directory = Directory.CreateTempSubdirectory("nemcache-bench-bitcask-").FullName;
        _engine = Bitcask.Open(new PersistenceOptions { DataDirectory = _directory, Sync = SyncMode.None }, new BitcaskOptions());
        _engine.Put(_key, _value, 7, 0);
        for (var i = 0; i < RecoveryKeys; i++)
        {
            _keyDir.GetOrAdd(Encoding.ASCII.GetBytes($"bench:key:{i:0000}"), out _) = new KeyDirEntry { FileId = 1, ValueOffset = i * 150, ValueSize = 100 };
        }

        _recoveryDirectory = Directory.CreateTempSubdirectory("nemcache-bench-bitcask-recovery-").FullName;
        using var filler = Bitcask.Open(new PersistenceOptions { DataDirectory = _recoveryDirectory, Sync = SyncMode.None },
            new BitcaskOptions { MaxFileBytes = 4 * 1024 * 1024 });
        for (var i = 0; i < RecoveryKeys; i++)
        {
            filler.Put(Encoding.ASCII.GetBytes($"key{i}"), _value, 0, 0);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
        Directory.Delete(_recoveryDirectory, recursive: true);
    }

    [Benchmark]
    public int EncodeRecord() => DataRecord.Encode(_record, RecordType.Put, 2, 0, 7, _key, _value);

    [Benchmark]
    public bool DecodeRecord() => DataRecord.Decode(_record.AsSpan(0, _recordLength), 0, out _) == DecodeStatus.Ok;

    /// <summary>Put as BitcaskStore calls it: encode, one write to the OS (sync mode none), keydir update.</summary>
    [Benchmark]
    public void AppendPut() => _engine.Put(_key, _value, 7, 0);

    /// <summary>One lookup in a keydir of 100k keys, by span: no key array is built.</summary>
    [Benchmark]
    public bool KeyDirLookup() => _keyDir.TryGet(_key, out _);

    /// <summary>A get through the engine: keydir lookup, one positional read, CRC check, value copy.</summary>
    [Benchmark]
    public bool GetThroughEngine() => _engine.TryGet(_key, out _);

    /// <summary>Open: lock, hint files (written at the filler's rotations and close), keydir; no values read.</summary>
    [Benchmark]
    public int RecoverKeyDirOf100kKeys()
    {
        using var engine = Bitcask.Open(new PersistenceOptions { DataDirectory = _recoveryDirectory, Sync = SyncMode.None },
            new BitcaskOptions(), NullLogger.Instance);
        return engine.GetStatistics().Keys;
    }
}

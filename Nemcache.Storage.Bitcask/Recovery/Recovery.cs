using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>A delayed flush_all: the sequence number of its marker and the unix second it takes effect.</summary>
internal readonly record struct PendingFlush(long Seq, long At);

/// <summary>A record of a lost data file, as its hint names it, to be written again: a put or touch as a tombstone.</summary>
internal readonly record struct LostRecord(RecordType Type, byte[] Key, long Seq, long ExpiresAt);

/// <summary>What an engine recovered at startup.</summary>
public sealed record BitcaskRecovery(int Keys, long ValueBytes, int Files, int FilesFromHints, int RecordsSkipped,
    int TornTails, TimeSpan Elapsed);

/// <summary>
/// Rebuilds the engine's state from a data directory: finishes or forgets an interrupted merge, reads each data file
/// through its hint (or scans it), resolves every key by its highest sequence number, and applies flush markers,
/// touches and expiry. File order and wall clock never decide which record wins. Read-only, it builds the same state
/// and leaves every file as it is: it neither finishes a merge nor cuts, deletes or removes anything (nemcache-data).
/// </summary>
internal sealed class Recovery
{
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly FileHandleBudget _handles;
    private readonly bool _readOnly;
    private readonly KeyDir _touches = new();
    private long _maxSeq;
    private long _lastFlushSeq;
    private PendingFlush _pending;
    private int _currentFile;
    private int _newestFile;

    private Recovery(string directory, ILogger logger, FileHandleBudget handles, bool readOnly)
    {
        _directory = directory;
        _logger = logger;
        _handles = handles;
        _readOnly = readOnly;
    }

    public KeyDir KeyDir { get; } = new();
    public SortedDictionary<int, DataFile> Files { get; } = new();
    public long NextSeq => _maxSeq + 1;
    public long LastFlushSeq { get; private set; }
    public PendingFlush? Pending { get; private set; }
    /// <summary>A delayed flush whose deadline passed while the process was down: the engine writes a real marker.</summary>
    public bool FlushDue { get; private set; }
    public BitcaskRecovery Summary { get; private set; } = new(0, 0, 0, 0, 0, 0, TimeSpan.Zero);
    /// <summary>Immutable files read by scanning, whose hint the engine writes once it runs.</summary>
    public List<DataFile> FilesWithoutHint { get; } = [];

    /// <summary>
    /// The records of data files that are lost (missing, or emptied) as their intact hints name them. The engine
    /// writes them again, with their sequence numbers, before it removes <see cref="LostHints"/>: a put or touch as a
    /// tombstone (its key's value is gone, and an older value of it must not come back), the others as they were.
    /// </summary>
    public List<LostRecord> LostRecords { get; } = [];

    public List<string> LostHints { get; } = [];

    /// <summary>The highest number of a lost data file (0 when none).</summary>
    public int HighestLostFileId { get; private set; }

    /// <summary>Keys whose put or touch was in a lost file, with its sequence number, to count the keys dropped.</summary>
    private readonly Dictionary<byte[], long> _lostKeys = new(ByteKeyComparer.Instance);

    public static Recovery Run(string directory, long now, ILogger logger, FileHandleBudget handles, bool readOnly = false)
    {
        var started = Stopwatch.GetTimestamp();
        var recovery = new Recovery(directory, logger, handles, readOnly);
        try
        {
            recovery.Load(now, started);
        }
        catch
        {
            foreach (var file in recovery.Files.Values)
            {
                file.Dispose();
            }
            throw;
        }
        return recovery;
    }

    private void Load(long now, long started)
    {
        if (!_readOnly)
        {
            MergeCommit.Resolve(_directory, _logger);
        }
        OpenDataFiles();
        ReserveForHintedKeys();
        int fromHints = 0, skipped = 0, torn = 0;
        var empty = new List<DataFile>();
        foreach (var file in Files.Values)
        {
            _currentFile = file.Id;
            if (!file.HasRecords)
            {
                empty.Add(file);
                continue;
            }
            if (HintFile.TryLoad(file, Apply))
            {
                fromHints++;
                continue;
            }
            if (File.Exists(file.HintPath))
            {
                DamageReport.HintIgnored(_logger, file);
            }
            var scan = file.Scan(Apply);
            foreach (var damage in scan.Skipped)
            {
                DamageReport.Skipped(_logger, file.Path, damage);
            }
            skipped += scan.Skipped.Count;
            if (scan.TornTail)
            {
                // Only the newest file can end in an unfinished record (rotation fsyncs the old one before moving on);
                // in an older one it is damage. Either way the bytes stay where they are: the engine never appends to
                // a recovered file, so nothing needs them gone.
                var newest = file.Id == _newestFile;
                DamageReport.Skipped(_logger, file.Path, new LogDamage(scan.ValidLength, file.Length - scan.ValidLength,
                    newest ? DamageReport.TornRecord : DamageReport.DamagedLastRecord));
                if (newest)
                {
                    torn++;
                }
                else
                {
                    skipped++;
                }
            }
            FilesWithoutHint.Add(file);
        }
        CountKeysLostWithTheirFiles();
        foreach (var file in empty)
        {
            // A file with no record is what a crash right after a restart (or rotation) leaves: nothing to keep.
            Files.Remove(file.Id);
            if (_readOnly)
            {
                file.Dispose();
            }
            else
            {
                file.Delete();
            }
        }
        Resolve(now);
        long bytes = 0;
        foreach (var (key, entry) in KeyDir)
        {
            var file = Files[entry.FileId];
            file.LiveBytes += entry.RecordSize(key.Length, file.RecordHeaderSize);
            bytes += entry.ValueSize;
        }
        Summary = new BitcaskRecovery(KeyDir.Count, bytes, Files.Count, fromHints, skipped, torn,
            Stopwatch.GetElapsedTime(started));
    }

    private void OpenDataFiles()
    {
        var ids = new List<int>();
        foreach (var path in Directory.EnumerateFiles(_directory, DataPrefix + "*"))
        {
            var name = Path.GetFileName(path);
            if (TryParseDataId(name, out var id))
            {
                ids.Add(id);
            }
            else if (name.EndsWith(HintSuffix, StringComparison.Ordinal) &&
                     TryParseDataId(name[..^HintSuffix.Length], out var hinted))
            {
                var data = Path.Combine(_directory, DataFileName(hinted));
                if (!File.Exists(data) && !TryReplayLostFile(path, data))
                {
                    DamageReport.HintWithoutDataFile(_logger, path);
                    if (!_readOnly)
                    {
                        File.Delete(path);
                    }
                }
            }
            else if (name.EndsWith(DamagedSuffix, StringComparison.Ordinal) &&
                     TryParseDataId(name[..^DamagedSuffix.Length], out _))
            {
                _logger.LogWarning("{File}: a damaged data file a merge set aside; it is never read, remove it once investigated", path);
            }
            else
            {
                // A copy such as data.01 or data.1.bak: not a name Nemcache writes, so it is neither read nor removed.
                _logger.LogWarning("{File}: ignored, Nemcache does not write files of that name", path);
            }
        }
        ids.Sort();
        for (var i = 0; i < ids.Count; i++)
        {
            var path = Path.Combine(_directory, DataFileName(ids[i]));
            var file = DataFile.Open(path, ids[i], _handles, out var problem);
            if (problem is null)
            {
                Files.Add(ids[i], file);
                _newestFile = ids[i];
                continue;
            }
            var length = file.Length;
            file.Dispose();
            if (length < FileHeaderSize && File.Exists(path + HintSuffix) && TryReplayLostFile(path + HintSuffix, path))
            {
                // It was whole once (a hint is written only for a complete file): its records are lost, not unfinished.
                if (!_readOnly)
                {
                    File.Delete(path);
                }
                continue;
            }
            if (i == ids.Count - 1 && length < FileHeaderSize)
            {
                // The process died while creating its newest file, before the header was complete.
                _logger.LogWarning("{File}: removed an unfinished data file ({Bytes} bytes)", path, length);
                if (!_readOnly)
                {
                    File.Delete(path);
                }
                continue;
            }
            throw new PersistenceException(
                $"{_directory} is not a Nemcache Bitcask data directory: {DataFileName(ids[i])} is not a data file ({problem}).");
        }
    }

    /// <summary>
    /// A data file is gone or emptied, but its intact hint names every record it held: each key whose newest record was
    /// there is dropped rather than served with an older value, and the flush markers and tombstones it held still
    /// count. False when the hint is not intact either.
    /// </summary>
    private bool TryReplayLostFile(string hint, string data)
    {
        var records = 0;
        var intact = HintFile.TryLoadLost(hint, (in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> _) =>
        {
            records++;
            var valueLost = record.Type is RecordType.Put or RecordType.Touch;
            var type = valueLost ? RecordType.Tombstone : record.Type;
            var expiresAt = type == RecordType.Tombstone ? 0 : record.ExpiresAt;
            var owned = key.ToArray();
            LostRecords.Add(new LostRecord(type, owned, record.Seq, expiresAt));
            Apply(new RecordInfo(type, record.Seq, expiresAt, 0, key.Length, 0, 0), key, []);
            if (valueLost && (!_lostKeys.TryGetValue(owned, out var seq) || seq < record.Seq))
            {
                _lostKeys[owned] = record.Seq;
            }
        });
        if (intact)
        {
            LostHints.Add(hint);
            if (TryParseDataId(Path.GetFileName(data), out var id))
            {
                HighestLostFileId = Math.Max(HighestLostFileId, id);
            }
            _logger.LogWarning("{File}: lost (missing or empty); its intact hint names the {Records} records it held",
                data, records);
        }
        return intact;
    }

    /// <summary>Says how many keys a lost file cost: those whose newest record was in it.</summary>
    private void CountKeysLostWithTheirFiles()
    {
        var dropped = 0;
        foreach (var (key, seq) in _lostKeys)
        {
            if (KeyDir.TryGet(key, out var entry) && entry.IsDeleted && entry.Seq == seq)
            {
                dropped++;
            }
        }
        if (_lostKeys.Count > 0)
        {
            _logger.LogWarning(
                "Dropped {Keys} keys whose newest record was in a lost data file; tombstones keep their older values from coming back",
                dropped);
        }
    }

    /// <summary>
    /// Sizes the keydir for every record the hint files announce (an upper bound on their keys), so that a million
    /// keys are not rehashed twenty times as the table doubles.
    /// </summary>
    private void ReserveForHintedKeys()
    {
        long records = 0;
        foreach (var file in Files.Values)
        {
            records += HintFile.RecordCount(file);
        }
        KeyDir.EnsureCapacity((int)Math.Min(records, Array.MaxLength));
    }

    /// <summary>data.N exactly as <see cref="BitcaskFormat.DataFileName"/> writes it: N in decimal without leading
    /// zeros, so that a copy such as data.01 is never taken for data.1.</summary>
    public static bool TryParseDataId(string fileName, out int id) => TryParseId(fileName, DataPrefix, out id);

    /// <summary>PREFIX + N, N a positive decimal written without leading zeros or sign.</summary>
    public static bool TryParseId(string fileName, string prefix, out int id)
    {
        id = 0;
        return fileName.StartsWith(prefix, StringComparison.Ordinal) &&
               int.TryParse(fileName.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, null, out id) &&
               id > 0 && fileName.Length == prefix.Length + CountDigits(id);
    }

    private static int CountDigits(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;

    [MethodImpl(RestoreHotPath.Compile)]
    private void Apply(in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (record.Seq > _maxSeq)
        {
            _maxSeq = record.Seq;
        }
        switch (record.Type)
        {
            case RecordType.Put:
            {
                ref var entry = ref KeyDir.GetOrAdd(key, out var exists);
                if (!exists || record.Seq > entry.Seq)
                {
                    entry = new KeyDirEntry
                    {
                        FileId = _currentFile, ValueOffset = record.ValueOffset, ValueSize = record.ValueSize,
                        Seq = record.Seq, ExpiresAt = record.ExpiresAt,
                    };
                }
                break;
            }
            case RecordType.Tombstone:
            {
                ref var entry = ref KeyDir.GetOrAdd(key, out var exists);
                if (!exists || record.Seq > entry.Seq)
                {
                    entry = new KeyDirEntry { Seq = record.Seq, ValueSize = KeyDirEntry.Deleted };
                }
                break;
            }
            case RecordType.Touch:
            {
                // Kept apart until every put is known: a touch may be read before the put it refers to.
                ref var touch = ref _touches.GetOrAdd(key, out var exists);
                if (!exists || record.Seq > touch.Seq)
                {
                    touch = new KeyDirEntry { Seq = record.Seq, ExpiresAt = record.ExpiresAt };
                }
                break;
            }
            case RecordType.Flush when record.Seq > _lastFlushSeq:
                _lastFlushSeq = record.Seq;
                break;
            case RecordType.DelayedFlush when record.Seq > _pending.Seq:
                _pending = new PendingFlush(record.Seq, record.ExpiresAt);
                break;
        }
    }

    private void Resolve(long now)
    {
        LastFlushSeq = _lastFlushSeq;
        var killBelow = _lastFlushSeq;
        if (_pending.Seq > _lastFlushSeq)
        {
            if (_pending.At <= now)
            {
                // No immediate marker follows the delayed one, so the cache never carried it out: every record was
                // written before its deadline and is dead.
                killBelow = _maxSeq + 1;
                FlushDue = true;
            }
            else
            {
                Pending = _pending;
            }
        }

        KeyDir.RemoveWhere((_, entry) => entry.IsDeleted || entry.Seq < killBelow);
        foreach (var (key, touch) in _touches)
        {
            ref var entry = ref KeyDir.Find(key);
            if (!Unsafe.IsNullRef(ref entry) && touch.Seq > entry.Seq)
            {
                entry.Seq = touch.Seq;
                entry.ExpiresAt = touch.ExpiresAt;
            }
        }
        KeyDir.RemoveWhere((_, entry) => ExpiryClock.HasExpired(entry.ExpiresAt, now));
    }
}

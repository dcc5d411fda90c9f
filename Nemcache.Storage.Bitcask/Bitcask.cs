using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>One live item as the engine holds it. <see cref="Cas"/> is 0 when its record kept none (format version 1).</summary>
public readonly record struct BitcaskItem(byte[] Key, byte[] Value, uint Flags, long ExpiresAt, ulong Cas = 0);

/// <summary>The engine's figures for stats.</summary>
public sealed record BitcaskStatistics(int Files, int Keys, long LiveBytes, long DeadBytes, long MergesRun, long Fsyncs,
    long DirectoryFsyncs, long WriterWaits);

/// <summary>
/// A Bitcask store, usable without the cache: numbered append-only data files, one of them active, and an in-memory
/// key directory that says where each key's latest value lies.
/// <para>
/// Every write (put, touch, tombstone, flush marker) takes the engine's lock, gets the next sequence number, goes to
/// the OS with one positional write at the end of the active file, and updates the keydir, all before the lock is
/// released; so the order of sequence numbers is the order of the file, and a caller that serialises its changes to a
/// key (the cache does, with its shard lock) sees them on disk in that order. Durability beyond the OS is
/// <see cref="SyncAsync"/>'s job (group commit), or the interval timer's.
/// </para>
/// <para>
/// Merge and hint writing run on one background queue, one job at a time; reads and writes go on meanwhile.
/// </para>
/// </summary>
public sealed class Bitcask : IDisposable
{
    private readonly BitcaskOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DataDirectoryLock _lock;
    private readonly FileHandleBudget _handles;
    private readonly Lock _gate = new();
    private readonly KeyDir _keyDir;
    private readonly Dictionary<int, DataFile> _files = [];
    private readonly GroupSync _groupSync;
    private readonly ITimer? _syncTimer;
    private readonly BackgroundQueue _background;
    private DataFile? _active;
    private int _nextFileId;
    private long _nextSeq;
    private long _lastFlushSeq;
    private PendingFlush? _pendingFlush;
    private bool _mergeQueued;
    private string? _unfinishedMerge;
    private long _mergesRun;
    private long _directorySyncs;
    private long _writerWaits;
    private long _appendedSinceDeadCheck;
    private volatile bool _mergingIsBehind;
    private Task? _catchUpMerge;
    private bool _closed;
    private int _timerSyncRunning;

    private Bitcask(PersistenceOptions persistence, BitcaskOptions options, ILogger logger, TimeProvider time,
        DataDirectoryLock lockFile, FileHandleBudget handles, Recovery recovery, FailureLatch? failures)
    {
        _handles = handles;
        _background = new BackgroundQueue(logger);
        _options = options;
        _logger = logger;
        _time = time;
        _lock = lockFile;
        DirectoryPath = persistence.DataDirectory;
        LastRecovery = recovery.Summary;
        _keyDir = recovery.KeyDir;
        foreach (var (id, file) in recovery.Files)
        {
            _files.Add(id, file);
            _nextFileId = id;
        }
        // A lost file's number is not reused while its hint may still be on disk.
        _nextFileId = Math.Max(_nextFileId, recovery.HighestLostFileId) + 1;
        _nextSeq = recovery.NextSeq;
        _lastFlushSeq = recovery.LastFlushSeq;
        _pendingFlush = recovery.Pending;

        // After a restart the engine never appends to an old file: the last one may end in a cut tail. On a disk too
        // full for even a new file's header, it starts without one (reads work) and the first write tries again.
        try
        {
            StartActiveFile();
        }
        catch (IOException ex)
        {
            _logger.LogWarning("Cannot create a new data file yet ({Message}); writes fail until there is room", ex.Message);
        }
        _groupSync = new GroupSync(SyncActiveFile, failures);
        RewriteLostRecords(recovery);
        if (recovery.FlushDue)
        {
            try
            {
                Flush();
            }
            catch (PersistenceException) when (_active is null)
            {
                // The marker cannot be written yet; the flush still holds in memory, and the next start sees it due again.
                ForgetEverything();
            }
        }

        if (persistence.Sync == SyncMode.Interval)
        {
            _syncTimer = time.CreateTimer(static self => ((Bitcask)self!).SyncInBackground(), this,
                persistence.SyncInterval, persistence.SyncInterval);
        }
        foreach (var file in recovery.FilesWithoutHint)
        {
            _background.Enqueue(() => WriteHint(file));
        }
    }

    /// <summary>
    /// Writes again, with their sequence numbers, what lost data files held (as their hints named it), then removes
    /// those hints. Until that is on disk the hints stay, and the next start does it again.
    /// </summary>
    private void RewriteLostRecords(Recovery recovery)
    {
        if (recovery.LostRecords.Count == 0)
        {
            return;
        }
        try
        {
            lock (_gate)
            {
                foreach (var lost in recovery.LostRecords)
                {
                    AppendAt(lost.Type, lost.Seq, lost.Key, [], 0, lost.ExpiresAt, cas: 0);
                }
            }
            _active?.FlushToDisk();
            foreach (var hint in recovery.LostHints)
            {
                DamageReport.HintWithoutDataFile(_logger, hint);
                File.Delete(hint);
            }
            SyncDirectory();
        }
        catch (Exception ex) when (ex is IOException or PersistenceException)
        {
            _logger.LogWarning("Cannot yet record what the lost data files held ({Message}); their hints stay for the next start", ex.Message);
        }
    }

    /// <summary>The data directory this engine owns.</summary>
    public string DirectoryPath { get; }

    /// <summary>What opening the directory recovered.</summary>
    public BitcaskRecovery LastRecovery { get; }

    /// <summary>The deadline of a delayed flush_all that has not happened yet, or null.</summary>
    public long? PendingFlushAt
    {
        get
        {
            lock (_gate) return _pendingFlush?.At;
        }
    }

    /// <summary>
    /// Where failed fsyncs are recorded (group commit's and the interval timer's, in <see cref="GroupSync"/>), and the
    /// failed writes the engine makes on its own (the tombstone of a key whose record was found damaged). While it holds
    /// a failure, <see cref="SyncAsync"/> refuses: a repair fsyncs with <see cref="FlushToDiskForRepair"/>.
    /// </summary>
    public FailureLatch Failures => _groupSync.Failures;

    /// <summary>Test hook: called under the lock before a record is appended; an IOException thrown from it fails that
    /// write as a full disk would.</summary>
    internal Action<RecordType>? AppendStarting { get; set; }

    /// <summary>Test hook: called before the active file is fsynced; an IOException thrown from it fails the fsync.</summary>
    internal Action? FsyncStarting { get; set; }

    /// <summary>Test hook: called as a merge reaches each phase; throwing from it stops the merge there, as a crash would.</summary>
    internal Action<MergePhase>? MergePhaseReached { get; set; }

    /// <summary>
    /// Opens (creating if needed) a data directory and recovers its keydir. Throws <see cref="PersistenceException"/>
    /// with a one-line message when the directory is in use, unusable, or not a Nemcache Bitcask directory.
    /// </summary>
    /// <param name="failures">Where the engine's failed fsyncs (and the writes it makes on its own) are recorded; the
    /// owner's latch, or the engine's own without one.</param>
    public static Bitcask Open(PersistenceOptions persistence, BitcaskOptions options, ILogger? logger = null,
        TimeProvider? time = null, FailureLatch? failures = null)
    {
        options.Validate();
        logger ??= NullLogger.Instance;
        time ??= TimeProvider.System;
        var directory = persistence.DataDirectory;
        DataDirectory.Prepare(directory);
        var lockFile = DataDirectoryLock.Acquire(directory);
        var handles = new FileHandleBudget(options.MaxOpenFiles);
        Recovery? recovery = null;
        try
        {
            recovery = Recovery.Run(directory, time.GetUtcNow().ToUnixTimeSeconds(), logger, handles);
            return new Bitcask(persistence, options, logger, time, lockFile, handles, recovery, failures);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            lockFile.Dispose();
            DisposeAll(recovery);
            throw new PersistenceException($"Data directory {directory} cannot be used: {ex.Message}", ex);
        }
        catch
        {
            lockFile.Dispose();
            DisposeAll(recovery);
            throw;
        }
    }

    /// <summary>
    /// Stores a value, with the item's CAS unique (0 when it has none), which a restore gives back. The engine keeps
    /// <paramref name="key"/> when the key is new: do not change it afterwards.
    /// </summary>
    public void Put(byte[] key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas = 0)
    {
        WaitWhileMergingIsBehind();
        lock (_gate)
        {
            var offset = Append(RecordType.Put, key, value, flags, expiresAt, out var seq, cas);
            ref var entry = ref _keyDir.GetOrAdd(key, out var exists);
            if (exists)
            {
                Forget(key.Length, entry);
            }
            entry = new KeyDirEntry
            {
                FileId = _active!.Id, ValueOffset = offset + RecordHeaderSize + key.Length, ValueSize = value.Length,
                Seq = seq, ExpiresAt = expiresAt,
            };
            _active.LiveBytes += DataRecord.SizeOf(key.Length, value.Length);
        }
        _groupSync.MarkWritten();
    }

    /// <summary>Gives a stored key a new expiry with a small record (no value). False when the engine has no such key.</summary>
    public bool Touch(ReadOnlySpan<byte> key, long expiresAt)
    {
        WaitWhileMergingIsBehind();
        lock (_gate)
        {
            ref var entry = ref _keyDir.Find(key);
            if (Unsafe.IsNullRef(ref entry))
            {
                return false;
            }
            Append(RecordType.Touch, key, [], 0, expiresAt, out var seq);
            entry.Seq = seq;
            entry.ExpiresAt = expiresAt;
        }
        _groupSync.MarkWritten();
        return true;
    }

    /// <summary>Deletes a key with a tombstone. A key the engine does not hold needs none: nothing on disk is live for it.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        WaitWhileMergingIsBehind();
        lock (_gate)
        {
            if (!_keyDir.TryGet(key, out _))
            {
                return false;
            }
            Append(RecordType.Tombstone, key, [], 0, 0, out _);
            _keyDir.Remove(key, out var entry);
            Forget(key.Length, entry);
        }
        _groupSync.MarkWritten();
        return true;
    }

    /// <summary>flush_all now: a marker that kills every earlier record, and any delayed flush.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            Append(RecordType.Flush, [], [], 0, _time.GetUtcNow().ToUnixTimeSeconds(), out var seq);
            ForgetEverything();
            _lastFlushSeq = seq;
            MaybeStartMerge();
        }
        _groupSync.MarkWritten();
    }

    /// <summary>What a flush does to the engine's memory: no key is live any more. Caller holds the lock (or owns the
    /// engine, in the constructor).</summary>
    private void ForgetEverything()
    {
        _keyDir.Clear();
        foreach (var file in _files.Values)
        {
            file.LiveBytes = 0;
        }
        _pendingFlush = null;
    }

    /// <summary>
    /// flush_all with a delay: remembers the deadline on disk. The caller carries the flush out at that time with
    /// <see cref="Flush"/>; if the process is down then, the next recovery does.
    /// </summary>
    public void ScheduleFlush(long flushAt)
    {
        lock (_gate)
        {
            Append(RecordType.DelayedFlush, [], [], 0, flushAt, out var seq);
            _pendingFlush = new PendingFlush(seq, flushAt);
        }
        _groupSync.MarkWritten();
    }

    /// <summary>Reads a live key's value with one positional read.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out BitcaskItem item)
    {
        if (!TryReadLive(key, out var entry, out var record, out var info) ||
            ExpiryClock.HasExpired(entry.ExpiresAt, Now()))
        {
            item = default;
            return false;
        }
        item = new BitcaskItem(key.ToArray(), DataRecord.ValueOf(record, info).ToArray(), info.Flags, entry.ExpiresAt, info.Cas);
        return true;
    }

    /// <summary>
    /// Hands every live item to <paramref name="load"/> in file and offset order, so that the disk is read front to
    /// back. A value whose record fails its CRC is skipped (and dropped from the keydir) with a warning. Returns how
    /// many were skipped. The first merge after a start waits for this load, which it would compete with for the disk.
    /// </summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public int ForEachLive(Action<BitcaskItem> load)
    {
        LiveRecord[] live;
        long version;
        lock (_gate)
        {
            version = _keyDir.Version;
            live = new LiveRecord[_keyDir.Count];
            var i = 0;
            foreach (var (key, entry) in _keyDir)
            {
                live[i++] = new LiveRecord(key, entry);
            }
        }
        // The keydir usually enumerates in the order its hint or data files filled it, which is already file order.
        if (!IsInFileOrder(live))
        {
            Array.Sort(live);
        }
        var skipped = 0;
        var window = new ReadWindow();
        foreach (var (key, snapshot) in live)
        {
            try
            {
                if (TryReadThroughWindow(window, key, snapshot, version, out var item) || TryReadLiveItem(key, out item))
                {
                    load(item);
                }
            }
            catch (PersistenceException ex)
            {
                _logger.LogWarning("{Message}; its key is dropped", ex.Message);
                lock (_gate)
                {
                    var unchangedSinceSnapshot = _keyDir.Version == version;
                    ForgetLostKey(key);
                    // This removal is the load's own: it must not send the remaining keys down the slow path.
                    if (unchangedSinceSnapshot)
                    {
                        version = _keyDir.Version;
                    }
                }
                skipped++;
            }
        }
        lock (_gate)
        {
            MaybeStartMerge();
        }
        return skipped;
    }

    /// <summary>
    /// The fast path of <see cref="ForEachLive"/>: the record, read through the window, while the key still points where
    /// the snapshot said. False when it moved (a merge, a write) or its file was closed: the caller takes the slow path.
    /// While nothing has changed the keydir since the snapshot (<paramref name="version"/>), as during a restore, the
    /// key is not looked up again: that probe of a table of a million keys cost more than reading the value.
    /// </summary>
    [MethodImpl(RestoreHotPath.Compile)]
    private bool TryReadThroughWindow(ReadWindow window, byte[] key, in KeyDirEntry snapshot, long version,
        out BitcaskItem item)
    {
        item = default;
        DataFile file;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_keyDir.Version != version &&
                (!_keyDir.TryGet(key, out var current) || current.FileId != snapshot.FileId
                 || current.ValueOffset != snapshot.ValueOffset || current.Seq != snapshot.Seq))
            {
                return false;
            }
            if (!_files.TryGetValue(snapshot.FileId, out file!))
            {
                return false;
            }
        }
        ReadOnlySpan<byte> record;
        try
        {
            record = window.Read(file, snapshot.RecordOffset(key.Length, file.RecordHeaderSize),
                snapshot.RecordSize(key.Length, file.RecordHeaderSize));
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        var offset = snapshot.RecordOffset(key.Length, file.RecordHeaderSize);
        var info = DecodePut(file, record, offset);
        item = new BitcaskItem(key, DataRecord.ValueOf(record, info).ToArray(), info.Flags, snapshot.ExpiresAt, info.Cas);
        return true;
    }

    private static bool IsInFileOrder(LiveRecord[] live)
    {
        for (var i = 1; i < live.Length; i++)
        {
            if (live[i - 1].CompareTo(live[i]) > 0)
            {
                return false;
            }
        }
        return true;
    }

    private bool TryReadLiveItem(byte[] key, out BitcaskItem item)
    {
        if (TryReadLive(key, out var entry, out var record, out var info))
        {
            item = new BitcaskItem(key, DataRecord.ValueOf(record, info).ToArray(), info.Flags, entry.ExpiresAt, info.Cas);
            return true;
        }
        item = default;
        return false;
    }

    /// <summary>Every key the engine holds, including expired ones merge has not dropped yet; a snapshot.</summary>
    public List<byte[]> Keys()
    {
        lock (_gate)
        {
            var keys = new List<byte[]>(_keyDir.Count);
            foreach (var (key, _) in _keyDir)
            {
                keys.Add(key);
            }
            return keys;
        }
    }

    /// <summary>Completes when every record written so far is fsynced; concurrent callers share one fsync.</summary>
    public ValueTask SyncAsync() => _groupSync.SyncAsync();

    /// <summary>
    /// fsyncs the active file now, outside group commit, which refuses while <see cref="Failures"/> holds a failure: a
    /// repair's own fsync, after it has written everything anew (rotation has fsynced every earlier file).
    /// </summary>
    public void FlushToDiskForRepair() => SyncActiveFile();

    /// <summary>Merges every immutable file now, in the background queue; completes when that merge is done.</summary>
    public Task MergeAsync() => _background.Enqueue(() => RunMerge(all: true));

    /// <summary>Merges only what the automatic trigger would pick: files at least MergeFragmentation dead, or wholly
    /// below the last flush marker.</summary>
    internal Task MergeFragmentedAsync() => _background.Enqueue(() => RunMerge(all: false));

    public BitcaskStatistics GetStatistics()
    {
        lock (_gate)
        {
            long live = 0, dead = 0;
            foreach (var file in _files.Values)
            {
                live += file.LiveBytes;
                dead += file.DeadBytes;
            }
            return new BitcaskStatistics(_files.Count, _keyDir.Count, live, dead, Interlocked.Read(ref _mergesRun),
                _groupSync.SyncCount, Interlocked.Read(ref _directorySyncs), Interlocked.Read(ref _writerWaits));
        }
    }

    /// <summary>
    /// Waits for the background queue, fsyncs the active file, writes its hint (the next start reads it instead of
    /// scanning), and releases the files and the lock.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
        }
        _syncTimer?.Dispose();
        _background.Drain();
        lock (_gate)
        {
            if (_active is { } active)
            {
                try
                {
                    active.FlushToDisk();
                    if (active.HasRecords)
                    {
                        HintFile.Write(active);
                    }
                    else
                    {
                        _files.Remove(active.Id);
                        active.Delete();
                    }
                }
                catch (IOException ex)
                {
                    _logger.LogError(ex, "Closing {File} failed; the next start scans it", active.Path);
                }
            }
            CloseFiles();
        }
    }

    /// <summary>
    /// Test hook: drops everything as a killed process would, with no fsync and no hint for the active file. Queued
    /// background work is let finish first (a state a crash could also leave), so that no late write lands in the
    /// directory after the "crash".
    /// </summary>
    internal void Abandon()
    {
        lock (_gate)
        {
            _closed = true;
        }
        _syncTimer?.Dispose();
        _background.Drain();
        lock (_gate)
        {
            CloseFiles();
        }
    }

    internal Lock Gate => _gate;
    internal KeyDir KeyDir => _keyDir;
    internal BitcaskOptions Options => _options;
    internal ILogger Logger => _logger;
    internal FileHandleBudget Handles => _handles;

    internal long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The next file number, for a merge output. Caller holds the lock.</summary>
    internal int AllocateFileId() => _nextFileId++;

    internal DataFile FileById(int id) => _files[id];

    /// <summary>A merge's view of the engine at its start. Caller holds the lock.</summary>
    internal MergeSnapshot TakeMergeSnapshot(bool all)
    {
        var inputs = new List<DataFile>();
        var outsideMinSeq = long.MaxValue;
        foreach (var file in _files.Values)
        {
            var chosen = file != _active && file.HasRecords &&
                         (all || file.MaxSeq < _lastFlushSeq || IsFragmented(file.DeadBytes, file.Length - FileHeaderSize));
            if (chosen)
            {
                inputs.Add(file);
            }
            else if (file.MinSeq < outsideMinSeq)
            {
                outsideMinSeq = file.MinSeq;
            }
        }
        inputs.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return new MergeSnapshot(inputs, outsideMinSeq, _lastFlushSeq, _pendingFlush, Now());
    }

    /// <summary>Puts a finished merge's outputs in place of its inputs. Caller holds the lock.</summary>
    internal void SwapMergedFiles(IReadOnlyList<DataFile> inputs, IReadOnlyList<DataFile> outputs)
    {
        foreach (var output in outputs)
        {
            _files.Add(output.Id, output);
        }
        foreach (var input in inputs)
        {
            _files.Remove(input.Id);
        }
    }

    /// <summary>
    /// After a merge has pointed the keydir at its copies: a key still pointing into a retired input had its only
    /// record there damaged (the merge's scan skips what fails its CRC). The value is gone either way; the key is
    /// dropped rather than left pointing at a file that no longer exists. Caller holds the lock.
    /// </summary>
    internal void DropKeysInRetiredFiles(IReadOnlyList<DataFile> inputs)
    {
        var retired = new HashSet<int>();
        foreach (var input in inputs)
        {
            retired.Add(input.Id);
        }
        var lost = new List<byte[]>();
        foreach (var (key, entry) in _keyDir)
        {
            if (retired.Contains(entry.FileId))
            {
                lost.Add(key);
            }
        }
        foreach (var key in lost)
        {
            ForgetLostKey(key);
        }
        if (lost.Count > 0)
        {
            _logger.LogWarning("Merge dropped {Keys} keys whose records were damaged", lost.Count);
        }
    }

    /// <summary>
    /// Forgets a key whose newest record can no longer be read. A tombstone takes that record's place unless
    /// <see cref="RecordDropRule"/> lets it vanish: an older put of the key may still be on disk, and the next start
    /// would serve it. Caller holds the lock.
    /// </summary>
    private void ForgetLostKey(byte[] key)
    {
        if (!_keyDir.Remove(key, out var lost))
        {
            return;
        }
        Forget(key.Length, lost);
        if (RecordDropRule.MayDropWithoutTombstone(lost.Seq, LowestSeqOnDisk(), _lastFlushSeq))
        {
            return;
        }
        try
        {
            Append(RecordType.Tombstone, key, [], 0, 0, out _);
            _groupSync.MarkWritten();
        }
        catch (PersistenceException ex)
        {
            _logger.LogError(ex, "Cannot write the tombstone of a key whose record was damaged");
            Failures.Record(ex);
        }
    }

    /// <summary>The lowest sequence number any data file holds. Caller holds the lock.</summary>
    private long LowestSeqOnDisk()
    {
        var lowest = long.MaxValue;
        foreach (var file in _files.Values)
        {
            lowest = Math.Min(lowest, file.MinSeq);
        }
        return lowest;
    }

    internal void CountMerge() => Interlocked.Increment(ref _mergesRun);

    /// <summary>Makes the creations, renames and deletions in the data directory so far durable (POSIX asks for an
    /// fsync of the directory itself).</summary>
    internal void SyncDirectory()
    {
        DirectorySync.Flush(DirectoryPath);
        Interlocked.Increment(ref _directorySyncs);
    }

    /// <summary>
    /// Reads the put that holds a key's value, or returns false when the key is not in the keydir. When a merge moved
    /// the value and closed its file between the lookup and the read, the key is looked up again.
    /// </summary>
    private bool TryReadLive(ReadOnlySpan<byte> key, out KeyDirEntry entry, out byte[] record, out RecordInfo info)
    {
        while (true)
        {
            DataFile file;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_closed, this);
                if (!_keyDir.TryGet(key, out entry))
                {
                    record = [];
                    info = default;
                    return false;
                }
                if (!_files.TryGetValue(entry.FileId, out file!))
                {
                    throw new PersistenceException($"data.{entry.FileId} is gone: the key's record was lost");
                }
            }
            try
            {
                record = ReadPut(file, key.Length, entry, out info);
                return true;
            }
            catch (ObjectDisposedException)
            {
                // Look the key up again: it now points into the merge's output (or the engine closed: thrown above).
            }
        }
    }

    /// <summary>Reads the put record a keydir entry points at and checks it; throws PersistenceException when damaged.</summary>
    internal static byte[] ReadPut(DataFile file, int keySize, in KeyDirEntry entry, out RecordInfo info)
    {
        var offset = entry.RecordOffset(keySize, file.RecordHeaderSize);
        var record = new byte[entry.RecordSize(keySize, file.RecordHeaderSize)];
        file.ReadExactly(record, offset);
        info = DecodePut(file, record, offset);
        return record;
    }

    /// <summary>Decodes the put a keydir entry points at; throws PersistenceException naming the damaged bytes.</summary>
    private static RecordInfo DecodePut(DataFile file, ReadOnlySpan<byte> record, long offset)
    {
        var status = DataRecord.Decode(record, offset, file.RecordHeaderSize, out var info);
        if (status == DecodeStatus.Ok && info.Type == RecordType.Put)
        {
            return info;
        }
        var reason = status switch
        {
            DecodeStatus.Ok => DamageReport.NotAPut,
            DecodeStatus.BadCrc => DamageReport.ChecksumMismatch,
            _ => DamageReport.UnreadableHeader,
        };
        throw new PersistenceException(DamageReport.DamagedValue(file.Path, offset, record.Length, reason));
    }

    /// <summary>
    /// Encodes a record and writes it at the end of the active file (rotating first when it would not fit), assigning
    /// the next sequence number. Caller holds the lock. Throws PersistenceException when the write fails; the file
    /// then still ends at a record boundary and the sequence number is not used.
    /// </summary>
    private long Append(RecordType type, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt,
        out long seq, ulong cas = 0)
    {
        seq = _nextSeq;
        var offset = AppendAt(type, seq, key, value, flags, expiresAt, cas);
        _nextSeq++;
        return offset;
    }

    /// <summary><see cref="Append"/> with a given sequence number: a record written again keeps its own.</summary>
    private long AppendAt(RecordType type, long seq, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags,
        long expiresAt, ulong cas)
    {
        if (_closed)
        {
            throw new PersistenceException("The Bitcask engine is closed.");
        }
        var size = DataRecord.SizeOf(key.Length, value.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var active = _active ?? StartActiveFile();
            if (active.HasRecords && active.Length + size > _options.MaxFileBytes)
            {
                Rotate();
                active = _active!;
            }
            AppendStarting?.Invoke(type);
            DataRecord.Encode(buffer, type, seq, expiresAt, flags, key, value, cas);
            var offset = active.Length;
            active.Append(buffer.AsSpan(0, size));
            active.NoteSeq(seq);
            _appendedSinceDeadCheck += size;
            if (_appendedSinceDeadCheck >= Math.Min(DeadCheckBytes, _options.MaxFileBytes))
            {
                _appendedSinceDeadCheck = 0;
                _mergingIsBehind = IsMergingBehind();
            }
            return offset;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"Writing to {_active?.Path ?? DataFileName(_nextFileId)} failed: {ex.Message}", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Creates the next data file and makes it the active one. Caller holds the lock (or owns the engine).</summary>
    private DataFile StartActiveFile()
    {
        var file = DataFile.Create(DirectoryPath, DataFileName(_nextFileId), _nextFileId, _handles);
        // Without it a power loss may forget the new file's name, and with it every record fsynced into the file.
        SyncDirectory();
        _files.Add(file.Id, file);
        _nextFileId++;
        _active = file;
        return file;
    }

    /// <summary>Makes the active file immutable (fsynced first, so that group commit never needs to revisit it) and
    /// starts the next one. Caller holds the lock.</summary>
    private void Rotate()
    {
        var old = _active!;
        old.FlushToDisk();
        StartActiveFile();
        old.Unpin();
        _mergingIsBehind = IsMergingBehind();
        _background.Enqueue(() => WriteHint(old));
        MaybeStartMerge();
    }

    /// <summary>The keydir no longer points at this entry's put: its bytes are dead. Caller holds the lock.</summary>
    internal void Forget(int keySize, in KeyDirEntry entry)
    {
        if (_files.TryGetValue(entry.FileId, out var file))
        {
            file.LiveBytes -= entry.RecordSize(keySize, file.RecordHeaderSize);
        }
    }

    /// <summary>Queues a merge when the immutable files are fragmented enough, or a flush left whole files dead.
    /// Caller holds the lock.</summary>
    private void MaybeStartMerge()
    {
        if (_mergeQueued || _closed || _unfinishedMerge is not null)
        {
            return;
        }
        long dead = 0, total = 0;
        var flushedFile = false;
        foreach (var file in _files.Values)
        {
            if (file == _active || !file.HasRecords)
            {
                continue;
            }
            dead += file.DeadBytes;
            total += file.Length - FileHeaderSize;
            flushedFile |= file.MaxSeq < _lastFlushSeq;
        }
        if (flushedFile || (dead >= _options.MergeMinDeadBytes && IsFragmented(dead, total)))
        {
            _mergeQueued = true;
            _background.Enqueue(() => RunMerge(all: false));
        }
    }

    private bool IsFragmented(long dead, long total) => total > 0 && dead >= _options.MergeFragmentation * total;

    /// <summary>How many appended bytes apart writers recheck whether dead bytes have outrun merging.</summary>
    private const long DeadCheckBytes = 1024 * 1024;

    /// <summary>
    /// The disk bound (docs/bitcask-format.md, "Disk use"): merging has fallen behind the writers when the immutable
    /// files hold more than twice the dead bytes that start a merge, max(MergeMinDeadBytes, f / (1 - f) x live) for
    /// MergeFragmentation f. With f = 1 no fragmentation ever starts a merge, and there is no bound. Caller holds the
    /// lock.
    /// </summary>
    private bool IsMergingBehind()
    {
        if (_options.MergeFragmentation >= 1)
        {
            return false;
        }
        double dead = 0, live = 0;
        foreach (var file in _files.Values)
        {
            if (file != _active)
            {
                dead += file.DeadBytes;
                live += file.LiveBytes;
            }
        }
        var f = _options.MergeFragmentation;
        return dead > 2 * Math.Max(_options.MergeMinDeadBytes, f / (1 - f) * live);
    }

    /// <summary>
    /// When writes outrun merging, the writer waits for a merge of every immutable file (which leaves next to no dead
    /// bytes in them) rather than let the disk fill: writes then go at the pace merges can reclaim. A merge that fails,
    /// or merging stopped after a failed commit, does not hold writers back.
    /// </summary>
    private void WaitWhileMergingIsBehind()
    {
        if (!_mergingIsBehind)
        {
            return;
        }
        Task merge;
        lock (_gate)
        {
            if (_closed || _unfinishedMerge is not null || !_mergingIsBehind)
            {
                return;
            }
            merge = _catchUpMerge ??= _background.Enqueue(CatchUpMerge);
        }
        Interlocked.Increment(ref _writerWaits);
        try
        {
            merge.Wait();
        }
        catch (AggregateException)
        {
            // The queue has logged it; writers go on.
        }
    }

    private void CatchUpMerge()
    {
        try
        {
            RunMerge(all: true);
        }
        finally
        {
            lock (_gate)
            {
                _catchUpMerge = null;
                // Writers go on until the next check, so that they make progress even if the merge reclaimed little.
                _mergingIsBehind = false;
            }
        }
    }

    private void RunMerge(bool all)
    {
        lock (_gate)
        {
            _mergeQueued = false;
            if (_closed)
            {
                return;
            }
            if (_unfinishedMerge is not null)
            {
                throw new PersistenceException(
                    $"Merging is stopped until a restart finishes the merge that failed after its commit: {_unfinishedMerge}");
            }
        }
        if (!new Merger(this).Run(all))
        {
            new Merger(this).Run(all: true);
        }
    }

    /// <summary>
    /// A merge failed after writing MERGE: its inputs may still be on disk while the engine no longer counts them, so a
    /// later merge could drop a tombstone that still hides one of their records, and would overwrite MERGE. Merging
    /// stops; the next start finishes the committed merge from MERGE before it reads any file.
    /// </summary>
    internal void StopMergingAfterFailedCommit(Exception failure)
    {
        lock (_gate)
        {
            _unfinishedMerge = failure.Message;
        }
        _logger.LogError(failure, "A merge failed after its commit; merging is stopped until a restart finishes it");
    }

    /// <summary>Writes an immutable file's hint; a failure only costs the next start a scan, so it is logged.</summary>
    internal void WriteHint(DataFile file)
    {
        try
        {
            HintFile.Write(file);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The file was merged away meanwhile, or the disk refused; either way the next start scans instead. The
            // hint begun for it goes: left behind its merged-away file, the next start would take it for a lost file.
            _logger.LogDebug(ex, "No hint written for {File}", file.Path);
            try
            {
                File.Delete(file.HintPath);
            }
            catch (IOException)
            {
                // A hint the disk will not let go of is ignored at the next start, having no valid trailer.
            }
        }
    }

    private void SyncActiveFile()
    {
        DataFile? active;
        lock (_gate)
        {
            active = _active;
        }
        FsyncStarting?.Invoke();
        // No active file yet (a full disk at startup): nothing has been written since the start, so nothing to sync.
        active?.FlushToDisk();
    }

    /// <summary>The interval timer's tick. A tick while the previous tick's fsync still runs does nothing, so that a
    /// slow disk does not pile up fsync rounds.</summary>
    private void SyncInBackground()
    {
        // While a failure stands group commit refuses, and the repair fsyncs what it writes: nothing to do, or log.
        if (_groupSync.HasUnsynced && Failures.Current is null && Interlocked.Exchange(ref _timerSyncRunning, 1) == 0)
        {
            _ = SyncLoggingFailureAsync();
        }
    }

    private async Task SyncLoggingFailureAsync()
    {
        try
        {
            await _groupSync.SyncAsync();
        }
        catch (PersistenceException ex)
        {
            _logger.LogError(ex, "Interval fsync failed");
        }
        finally
        {
            Volatile.Write(ref _timerSyncRunning, 0);
        }
    }

    private void CloseFiles()
    {
        foreach (var file in _files.Values)
        {
            file.Dispose();
        }
        _lock.Dispose();
    }

    private static void DisposeAll(Recovery? recovery)
    {
        if (recovery is null)
        {
            return;
        }
        foreach (var file in recovery.Files.Values)
        {
            file.Dispose();
        }
    }

    /// <summary>A live key and where its value lies; sorts by file, then offset.</summary>
    private readonly record struct LiveRecord(byte[] Key, KeyDirEntry Entry) : IComparable<LiveRecord>
    {
        public int CompareTo(LiveRecord other)
        {
            var byFile = Entry.FileId.CompareTo(other.Entry.FileId);
            return byFile != 0 ? byFile : Entry.ValueOffset.CompareTo(other.Entry.ValueOffset);
        }
    }
}

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
/// This type is the engine's lifecycle and its write and read paths; it composes the pieces that do the work.
/// <see cref="DataFileSet"/> owns the files and the keydir under one lock: every write (put, touch, tombstone, flush
/// marker) gets the next sequence number, is appended after the active file's pending records, and updates the keydir
/// before that lock is released; so a caller that serialises its changes to a key (the cache does, with its shard
/// lock) sees them on disk in that order. The pending records go to the OS with one positional write at
/// <see cref="WritePending"/> (a commit), <see cref="SyncAsync"/> or <see cref="Dispose"/>. Durability beyond the OS is
/// <see cref="SyncAsync"/>'s job (group commit), or <see cref="IntervalSync"/>'s. <see cref="MergeSchedule"/> decides when <see cref="Merger"/>
/// runs; merges and hint writing run on one background queue, one job at a time, while reads and writes go on.
/// <see cref="LiveItemLoad"/> is the restore's bulk load.
/// </para>
/// </summary>
public sealed class Bitcask : IDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DataDirectoryLock _lock;
    private readonly DataFileSet _files;
    private readonly MergeSchedule _merges;
    private readonly IntervalSync? _intervalSync;
    private readonly BackgroundQueue _background;

    private Bitcask(PersistenceOptions persistence, BitcaskOptions options, ILogger logger, TimeProvider time,
        DataDirectoryLock lockFile, FileHandleBudget handles, Recovery recovery, FailureLatch? failures)
    {
        _background = new BackgroundQueue(logger);
        _logger = logger;
        _time = time;
        _lock = lockFile;
        LastRecovery = recovery.Summary;
        _files = new DataFileSet(persistence.DataDirectory, options, handles, recovery, logger, failures, RotatedOut);
        _merges = new MergeSchedule(_files, _background, logger, time);
        _files.RewriteLostRecords(recovery);
        if (recovery.FlushDue)
        {
            _files.FlushDueAtStart(Now());
            _merges.MaybeStart();
        }

        if (persistence.Sync == SyncMode.Interval)
        {
            _intervalSync = new IntervalSync(_files.GroupSync, persistence.SyncInterval, time, logger);
        }
        foreach (var file in recovery.FilesWithoutHint)
        {
            _background.Enqueue(() => HintFile.WriteOrLeaveForScan(file, _logger));
        }
    }

    /// <summary>The data directory this engine owns.</summary>
    public string DirectoryPath => _files.DirectoryPath;

    /// <summary>What opening the directory recovered.</summary>
    public BitcaskRecovery LastRecovery { get; }

    /// <summary>The deadline of a delayed flush_all that has not happened yet, or null.</summary>
    public long? PendingFlushAt => _files.PendingFlushAt;

    /// <summary>
    /// Where failed fsyncs are recorded (group commit's and the interval timer's, in <see cref="GroupSync"/>), and the
    /// failed writes the engine makes on its own (the tombstone of a key whose record was found damaged). While it holds
    /// a failure, <see cref="SyncAsync"/> refuses: a repair fsyncs with <see cref="FlushToDiskForRepair"/>.
    /// </summary>
    public FailureLatch Failures => _files.GroupSync.Failures;

    /// <summary>Test hook: called under the lock before a record is appended; an IOException thrown from it fails that
    /// write as a full disk would.</summary>
    internal Action<RecordType>? AppendStarting
    {
        get => _files.AppendStarting;
        set => _files.AppendStarting = value;
    }

    /// <summary>Test hook: called before the active file is fsynced; an IOException thrown from it fails the fsync.</summary>
    internal Action? FsyncStarting
    {
        get => _files.FsyncStarting;
        set => _files.FsyncStarting = value;
    }

    /// <summary>Test hook: called as a merge reaches each phase; throwing from it stops the merge there, as a crash would.</summary>
    internal Action<MergePhase>? MergePhaseReached
    {
        get => _merges.PhaseReached;
        set => _merges.PhaseReached = value;
    }

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
    public void Put(byte[] key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas = 0) =>
        _files.Put(key, value, flags, expiresAt, cas);

    /// <summary>Gives a stored key a new expiry with a small record (no value). False when the engine has no such key.</summary>
    public bool Touch(ReadOnlySpan<byte> key, long expiresAt) => _files.Touch(key, expiresAt);

    /// <summary>Deletes a key with a tombstone. A key the engine does not hold needs none: nothing on disk is live for it.</summary>
    public bool Delete(ReadOnlySpan<byte> key) => _files.Delete(key);

    /// <summary>
    /// Completes when merging is within the disk bound: at once, unless writes have outrun merging, and then when a
    /// merge of every immutable file is done (<see cref="MergeSchedule.CaughtUp"/>). Writers wait on it before they
    /// acknowledge, outside any cache lock; it never faults.
    /// </summary>
    public Task MergingCaughtUp() => _merges.CaughtUp();

    /// <summary>flush_all now: a marker that kills every earlier record, and any delayed flush.</summary>
    public void Flush()
    {
        _files.Flush(Now());
        _merges.MaybeStart();
    }

    /// <summary>
    /// flush_all with a delay: remembers the deadline on disk. The caller carries the flush out at that time with
    /// <see cref="Flush"/>; if the process is down then, the next recovery does.
    /// </summary>
    public void ScheduleFlush(long flushAt) => _files.ScheduleFlush(flushAt);

    /// <summary>Reads a live key's value with one positional read.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out BitcaskItem item)
    {
        if (!_files.TryReadLive(key, out var entry, out var record, out var info) ||
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
    /// back (<see cref="LiveItemLoad"/>). A value whose record fails its CRC is skipped (and dropped from the keydir)
    /// with a warning. Returns how many were skipped. The first merge after a start waits for this load, which it
    /// would compete with for the disk.
    /// </summary>
    public int ForEachLive(Action<BitcaskItem> load)
    {
        var skipped = LiveItemLoad.Run(_files, _logger, load);
        _merges.MaybeStart();
        return skipped;
    }

    /// <summary>Every key the engine holds, including expired ones merge has not dropped yet; a snapshot.</summary>
    public List<byte[]> Keys() => _files.Keys();

    /// <summary>
    /// Writes every record appended so far to the OS with one write call (group commit: the first caller writes for
    /// everyone before it). Returns the failure, already recorded in <see cref="Failures"/>, or null.
    /// </summary>
    public Exception? WritePending() => _files.WritePending();

    /// <summary>Completes when every record appended so far is written and fsynced; concurrent callers share one
    /// fsync.</summary>
    public ValueTask SyncAsync() => _files.WritePending() is { } failure
        ? ValueTask.FromException(failure)
        : _files.GroupSync.SyncAsync();

    /// <summary>
    /// fsyncs the active file now, outside group commit, which refuses while <see cref="Failures"/> holds a failure: a
    /// repair's own fsync, after it has written everything anew (rotation has fsynced every earlier file).
    /// </summary>
    public void FlushToDiskForRepair()
    {
        if (_files.WritePending() is { } failure)
        {
            throw failure;
        }
        _files.SyncActiveFile();
    }

    /// <summary>Merges every immutable file now, in the background queue; completes when that merge is done.</summary>
    public Task MergeAsync() => _merges.MergeAsync(all: true);

    /// <summary>Merges only what the automatic trigger would pick: files at least MergeFragmentation dead, or wholly
    /// below the last flush marker.</summary>
    internal Task MergeFragmentedAsync() => _merges.MergeAsync(all: false);

    public BitcaskStatistics GetStatistics() => _files.GetStatistics(_merges.MergesRun, _merges.WriterWaits);

    /// <summary>
    /// Waits for the background queue, fsyncs the active file, writes its hint (the next start reads it instead of
    /// scanning), and releases the files and the lock.
    /// </summary>
    public void Dispose()
    {
        // Merging stops first: a merge queued before the close returns without starting.
        _merges.Close();
        if (!_files.BeginClose())
        {
            return;
        }
        _intervalSync?.Dispose();
        _background.Drain();
        _files.Close(finishActive: true);
        _lock.Dispose();
    }

    /// <summary>
    /// Test hook: drops everything as a process killed right after a commit would, with no fsync and no hint for the
    /// active file. The pending records are written first, as the commit did; <see cref="AbandonBeforeCommit"/> is a
    /// kill before it. Queued background work is let finish first (a state a crash could also leave), so that no late
    /// write lands in the directory after the "crash".
    /// </summary>
    internal void Abandon()
    {
        WritePending();
        AbandonBeforeCommit();
    }

    /// <summary>Test hook: <see cref="Abandon"/> without the commit: the pending records are lost with the process.</summary>
    internal void AbandonBeforeCommit()
    {
        _merges.Close();
        _files.BeginClose();
        _intervalSync?.Dispose();
        _background.Drain();
        _files.Close(finishActive: false);
        _lock.Dispose();
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>A file rotation made immutable (under the file set's lock): its hint is written in the background, and
    /// the files may now be fragmented enough for a merge.</summary>
    private void RotatedOut(DataFile file)
    {
        _background.Enqueue(() => HintFile.WriteOrLeaveForScan(file, _logger));
        _merges.MaybeStart();
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
    internal static RecordInfo DecodePut(DataFile file, ReadOnlySpan<byte> record, long offset)
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
}

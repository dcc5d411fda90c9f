using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// The engine's data files and the keydir that points into them, under one lock: the active file and its rotation,
/// file numbers and sequence numbers, the last flush marker and a pending delayed flush, the live and dead bytes of
/// each file, and, for a merge, its snapshot and the swap that retires its inputs. Every public method takes the lock
/// itself, and every private one runs with it held. The only lock taken inside it is the merge schedule's (rotation
/// tells the schedule), so nothing here may be called with that one held.
/// <para>
/// Every record gets the next sequence number, is appended after the active file's pending records and updates the
/// keydir before the lock is released; so the order of sequence numbers is the order of the file, and a caller that
/// serialises its changes to a key sees them on disk in that order. The pending records reach the OS together, with
/// one positional write, at <see cref="WritePending"/> (a commit), when they pass the buffer's bound, or before anyone
/// reads the active file. Its fsync is <see cref="GroupSync"/>'s, and counts only written records.
/// </para>
/// <para>
/// One type because one lock must cover the files and the keydir together; its files split it by who asks: this one
/// has the lifecycle and the writes, DataFileSet.Reads.cs the reads and the bulk load's, DataFileSet.Merge.cs what a
/// merge asks of the set.
/// </para>
/// </summary>
internal sealed partial class DataFileSet
{
    /// <summary>How many appended bytes apart writers recheck whether dead bytes have outrun merging.</summary>
    private const long DeadCheckBytes = 1024 * 1024;

    private readonly BitcaskOptions _options;
    private readonly ILogger _logger;
    private readonly FileHandleBudget _handles;
    private readonly Action<DataFile> _rotatedOut;
    private readonly Lock _gate = new();
    private readonly KeyDir _keyDir;
    private readonly Dictionary<int, DataFile> _files = [];
    private DataFile? _active;
    private int _nextFileId;
    private long _nextSeq;
    private long _lastFlushSeq;
    private PendingFlush? _pendingFlush;
    private long _appendedSinceDeadCheck;
    private volatile bool _mergingIsBehind;
    private long _directorySyncs;
    private bool _closed;

    /// <summary>Records appended, and how many of them the last write of pending records covered; written under the
    /// lock, read without it by <see cref="WritePending"/>'s fast path.</summary>
    private long _appended, _writtenOut;

    /// <summary>
    /// Takes over what recovery opened and starts a new active file: after a restart the engine never appends to an
    /// old file, whose end may be a cut tail. On a disk too full for even a new file's header it starts without one
    /// (reads work) and the first write tries again.
    /// </summary>
    /// <param name="rotatedOut">Told, under the lock, of each file that rotation has made immutable (and fsynced).</param>
    public DataFileSet(string directory, BitcaskOptions options, FileHandleBudget handles, Recovery recovery,
        ILogger logger, FailureLatch? failures, Action<DataFile> rotatedOut)
    {
        DirectoryPath = directory;
        _options = options;
        _handles = handles;
        _logger = logger;
        _rotatedOut = rotatedOut;
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
        try
        {
            StartActiveFile();
        }
        catch (IOException ex)
        {
            _logger.LogWarning("Cannot create a new data file yet ({Message}); writes fail until there is room", ex.Message);
        }
        GroupSync = new GroupSync(SyncActiveFile, failures);
    }

    /// <summary>The data directory the files are in.</summary>
    public string DirectoryPath { get; }

    /// <summary>Group commit over the active file (rotation fsyncs a file before it becomes immutable).</summary>
    public GroupSync GroupSync { get; }

    public BitcaskOptions Options => _options;

    /// <summary>Test hook: called under the lock before a record is appended; an IOException thrown from it fails that
    /// write as a full disk would.</summary>
    internal Action<RecordType>? AppendStarting { get; set; }

    /// <summary>Test hook: called before the active file is fsynced; an IOException thrown from it fails the fsync.</summary>
    internal Action? FsyncStarting { get; set; }

    /// <summary>The deadline of a delayed flush_all that has not happened yet, or null.</summary>
    public long? PendingFlushAt
    {
        get
        {
            lock (_gate) return _pendingFlush?.At;
        }
    }

    /// <summary>
    /// Writes again, with their sequence numbers, what lost data files held (as their hints named it), then removes
    /// those hints. Until that is on disk the hints stay, and the next start does it again.
    /// </summary>
    public void RewriteLostRecords(Recovery recovery)
    {
        if (recovery.LostRecords.Count == 0)
        {
            return;
        }
        try
        {
            DataFile? active;
            lock (_gate)
            {
                foreach (var lost in recovery.LostRecords)
                {
                    AppendAt(lost.Type, lost.Seq, lost.Key, [], 0, lost.ExpiresAt, cas: 0);
                }
                active = _active;
                ThrowIfFailed(WritePendingLocked());
            }
            active?.FlushToDisk();
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

    /// <summary>A flush whose deadline passed while the process was down: carried out at the start. When its marker
    /// cannot be written yet, the flush still holds in memory, and the next start sees it due again.</summary>
    public void FlushDueAtStart(long now)
    {
        try
        {
            Flush(now);
        }
        catch (PersistenceException)
        {
            lock (_gate)
            {
                if (_active is not null)
                {
                    throw;
                }
                ForgetEverything();
            }
        }
    }

    public void Put(byte[] key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas)
    {
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
    }

    public bool Touch(ReadOnlySpan<byte> key, long expiresAt)
    {
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
        return true;
    }

    public bool Delete(ReadOnlySpan<byte> key)
    {
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
        return true;
    }

    /// <summary>A flush marker that kills every earlier record, and any delayed flush.</summary>
    public void Flush(long now)
    {
        lock (_gate)
        {
            Append(RecordType.Flush, [], [], 0, now, out var seq);
            ForgetEverything();
            _lastFlushSeq = seq;
        }
    }

    public void ScheduleFlush(long flushAt)
    {
        lock (_gate)
        {
            Append(RecordType.DelayedFlush, [], [], 0, flushAt, out var seq);
            _pendingFlush = new PendingFlush(seq, flushAt);
        }
    }

    /// <summary>
    /// Writes the active file's pending records with one write call: whoever commits first writes for everyone before
    /// it. Null when everything appended so far is written; otherwise the failure, which is recorded in the group
    /// sync's latch (every commit that counted on the dropped records fails on it) before anyone can see them as
    /// written.
    /// </summary>
    public Exception? WritePending()
    {
        if (Volatile.Read(ref _writtenOut) >= Volatile.Read(ref _appended))
        {
            return null;
        }
        lock (_gate)
        {
            return WritePendingLocked();
        }
    }

    private Exception? WritePendingLocked()
    {
        if (_active is { PendingBytes: > 0 } active)
        {
            try
            {
                active.WritePending();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                var failure = new PersistenceException($"Writing to {active.Path} failed: {ex.Message}", ex);
                GroupSync.Failures.Record(failure);
                return failure;
            }
            GroupSync.MarkWritten();
        }
        Volatile.Write(ref _writtenOut, _appended);
        return null;
    }

    private static void ThrowIfFailed(Exception? failure)
    {
        if (failure is not null)
        {
            throw failure;
        }
    }

    public BitcaskStatistics GetStatistics(long mergesRun, long writerWaits)
    {
        lock (_gate)
        {
            long live = 0, dead = 0;
            foreach (var file in _files.Values)
            {
                live += file.LiveBytes;
                dead += file.DeadBytes;
            }
            return new BitcaskStatistics(_files.Count, _keyDir.Count, live, dead, mergesRun, GroupSync.SyncCount,
                Interlocked.Read(ref _directorySyncs), writerWaits);
        }
    }

    /// <summary>Makes the creations, renames and deletions in the data directory so far durable (POSIX asks for an
    /// fsync of the directory itself).</summary>
    public void SyncDirectory()
    {
        DirectorySync.Flush(DirectoryPath);
        Interlocked.Increment(ref _directorySyncs);
    }

    /// <summary>The fsync <see cref="GroupSync"/> runs, and a repair's own: the active file (rotation has fsynced every
    /// earlier one). Without an active file yet (a full disk at startup) nothing has been written since the start.</summary>
    public void SyncActiveFile()
    {
        DataFile? active;
        lock (_gate)
        {
            active = _active;
        }
        FsyncStarting?.Invoke();
        active?.FlushToDisk();
    }

    /// <summary>Refuses every later write; false when the set was closed already.</summary>
    public bool BeginClose()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            _closed = true;
            return true;
        }
    }

    /// <summary>
    /// Releases every file. With <paramref name="finishActive"/> the active file is fsynced first and gets its hint
    /// (the next start reads it instead of scanning), or is deleted when empty; without, the files are dropped as a
    /// killed process would drop them.
    /// </summary>
    public void Close(bool finishActive)
    {
        lock (_gate)
        {
            if (finishActive && _active is { } active)
            {
                try
                {
                    active.WritePending();
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
            foreach (var file in _files.Values)
            {
                file.Dispose();
            }
        }
    }

    /// <summary>What a flush does to the set's memory: no key is live any more.</summary>
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
    /// Forgets a key whose newest record can no longer be read. A tombstone takes that record's place unless
    /// <see cref="RecordDropRule"/> lets it vanish: an older put of the key may still be on disk, and the next start
    /// would serve it.
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
        }
        catch (PersistenceException ex)
        {
            _logger.LogError(ex, "Cannot write the tombstone of a key whose record was damaged");
            GroupSync.Failures.Record(ex);
        }
    }

    /// <summary>The lowest sequence number any data file holds.</summary>
    private long LowestSeqOnDisk()
    {
        var lowest = long.MaxValue;
        foreach (var file in _files.Values)
        {
            lowest = Math.Min(lowest, file.MinSeq);
        }
        return lowest;
    }

    /// <summary>The keydir no longer points at this entry's put: its bytes are dead.</summary>
    private void Forget(int keySize, in KeyDirEntry entry)
    {
        if (_files.TryGetValue(entry.FileId, out var file))
        {
            file.LiveBytes -= entry.RecordSize(keySize, file.RecordHeaderSize);
        }
    }

    /// <summary>
    /// Encodes a record and writes it at the end of the active file (rotating first when it would not fit), assigning
    /// the next sequence number. Throws PersistenceException when the write fails; the file
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
            active.AppendPending(buffer.AsSpan(0, size));
            active.NoteSeq(seq);
            Volatile.Write(ref _appended, _appended + 1);
            if (active.PendingIsFull)
            {
                // The buffer's bound: a failure here is latched like any failed write and reported by the commit.
                WritePendingLocked();
            }
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

    /// <summary>Creates the next data file and makes it the active one.</summary>
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
    /// starts the next one.</summary>
    private void Rotate()
    {
        var old = _active!;
        old.WritePending();
        old.FlushToDisk();
        StartActiveFile();
        old.Unpin();
        _mergingIsBehind = IsMergingBehind();
        _rotatedOut(old);
    }
}

using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// StreamArchiver's write path: each change becomes a record, framed in order under the archiver's lock; a commit
/// writes every record still pending with one write call (group commit: whoever commits first writes for everyone),
/// then waits for group commit's fsync under <see cref="SyncMode.Always"/>, or for a compaction when the log has
/// reached its bound; a failed write or fsync is latched until a compaction repairs the log.
/// </summary>
public sealed partial class StreamArchiver
{
    /// <summary>
    /// Called under the cache's lock for the key (every lock, for a flush): the record is framed after every record
    /// appended before it, so per-key order on disk is the cache's order, and it reaches the OS at the next commit
    /// (of any connection), before any reply that depends on it. A failed write is remembered, not thrown: the cache
    /// has already made the change, and the next commit reports it. Changes before <see cref="Restore"/> or after
    /// <see cref="DisposeAsync"/> have no log to go to; the host subscribes only in between.
    /// </summary>
    public void OnChange(in CacheChange change)
    {
        if (change.Kind == CacheChangeKind.Evict && change.Reason == EvictionReason.Expiry)
        {
            return;
        }
        lock (_gate)
        {
            var record = LogRecord.ForChange(change, _sequence + 1);
            if (record is null || !Append(record))
            {
                return;
            }
            // Checked now, not at the next tick: at a high write rate a second's writes can outgrow the live data. The
            // bound may be stale (the live data grew since it was set), so the check sets it again before it decides.
            if (_logLength > _bound.CompactAt && _compaction is not { IsCompleted: false }
                && Interlocked.Exchange(ref _checkQueued, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static self => self.CheckCompaction(), this, preferLocal: false);
            }
        }
    }

    public ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        // Lock-free when another commit has written everything appended so far; a failed write latches its failure
        // before anyone can see its records as written.
        if (Volatile.Read(ref _writtenOut) < Volatile.Read(ref _appended))
        {
            lock (_gate)
            {
                WritePendingLocked();
            }
        }
        if (_failures.Current is { } failure)
        {
            return ValueTask.FromException(new PersistenceException(OneLine($"{StreamLogFormat.LogFileName} may miss a record: {failure.Message}"), failure));
        }
        if (Volatile.Read(ref _logLength) >= Volatile.Read(ref _bound).StallAt)
        {
            return CommitWhenCompactedAsync(cancellationToken);
        }
        if (_persistence.Sync != SyncMode.Always)
        {
            return ValueTask.CompletedTask;
        }
        var synced = _groupSync.SyncAsync();
        return synced.IsCompleted || !cancellationToken.CanBeCanceled
            ? synced
            : new ValueTask(synced.AsTask().WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Backpressure: the log has reached its bound because writers outran the compaction, so this commit (and with it
    /// the connection's next batch) waits until a compaction has shrunk the log. The change itself is already in the
    /// log; only the reply waits, so per-key order holds and no cache lock is held meanwhile.
    /// </summary>
    private async ValueTask CommitWhenCompactedAsync(CancellationToken cancellationToken)
    {
        // The bound may be stale: the live data may have grown since it was set.
        while (Volatile.Read(ref _logLength) >= UpdateBound().StallAt)
        {
            var compactions = Interlocked.Read(ref _compactions);
            Task compaction;
            try
            {
                compaction = CompactAsync();
            }
            catch (InvalidOperationException ex)
            {
                throw new PersistenceException($"{StreamLogFormat.LogFileName} is closed", ex);
            }
            await compaction.WaitAsync(cancellationToken);
            if (Interlocked.Read(ref _compactions) == compactions && Volatile.Read(ref _logLength) >= Volatile.Read(ref _bound).StallAt)
            {
                throw new PersistenceException(
                    $"{StreamLogFormat.LogFileName} reached its bound of {Volatile.Read(ref _bound).StallAt} bytes and could not be compacted");
            }
        }
        await CommitAsync(cancellationToken);
    }

    /// <summary>Appends to the pending records under <see cref="_gate"/> (which the writer writes out when they reach
    /// its bound); false when there is no log (disposed) or that write failed.</summary>
    private bool Append(LogRecord record)
    {
        if (_writer is not { } writer)
        {
            return false;
        }
        var pending = writer.PendingRecords;
        bool wroteOut;
        try
        {
            wroteOut = writer.Append(record);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DropPending(writer, pending, ex);
            return false;
        }
        _sequence = record.Sequence;
        _recordsWritten++;
        Volatile.Write(ref _appended, _appended + 1);
        Volatile.Write(ref _logLength, writer.Length + writer.PendingBytes);
        if (wroteOut)
        {
            WrittenOut();
        }
        return true;
    }

    /// <summary>
    /// Under <see cref="_gate"/>: writes every pending record with one write call. A failed write drops them all and
    /// latches the failure, so that every commit that counted on them throws; their sequence numbers stay used (a
    /// compaction may already carry them), which leaves a gap in the log. False when the write failed.
    /// </summary>
    private bool WritePendingLocked()
    {
        if (_writer is not { PendingRecords: > 0 } writer)
        {
            // Written by an earlier commit, or dropped by a failed write that the latch already holds.
            Volatile.Write(ref _writtenOut, _appended);
            return true;
        }
        var pending = writer.PendingRecords;
        try
        {
            writer.WritePending();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DropPending(writer, pending, ex);
            return false;
        }
        WrittenOut();
        return true;
    }

    /// <summary>Under <see cref="_gate"/>: a write of the pending records succeeded.</summary>
    private void WrittenOut()
    {
        _groupSync.MarkWritten();
        Volatile.Write(ref _writtenOut, _appended);
    }

    /// <summary>Under <see cref="_gate"/>: a write of the pending records failed and the writer dropped them.</summary>
    private void DropPending(StreamLogWriter writer, int records, Exception failure)
    {
        _recordsWritten -= records;
        Volatile.Write(ref _logLength, writer.Length);
        RememberFailure(failure);
    }

    /// <summary>
    /// The log now misses (or, after a failed fsync, may miss) a change the cache made, so mutations are refused and
    /// commits fail until a compaction has rewritten the log from the cache; the background loop starts one at its
    /// next check.
    /// </summary>
    private void RememberFailure(Exception ex) => _failures.Record(ex);

    /// <summary>Logged once per outage, not once per record: a full disk fails every write until it is repaired.</summary>
    private void LogOutage(Exception ex) =>
        _logger.LogError("{File}: a write or fsync failed; mutations are refused until a compaction rewrites the log: {Error}",
            StreamLogFormat.LogFileName, ex.Message);

    /// <summary>The fsync <see cref="GroupSync"/> runs: on whichever file is the log now. A compaction fsyncs the new
    /// log before swapping it in, so records written to the old one are on disk either way.</summary>
    private void SyncCurrentLog()
    {
        lock (_syncGate)
        {
            Volatile.Read(ref _writer)?.SyncWritten();
        }
    }
}

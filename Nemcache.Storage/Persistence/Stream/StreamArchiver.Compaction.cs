using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// StreamArchiver's compaction: when it is due (past the size bound, or to repair a failed write or drop damage), and
/// the compaction itself, which copies what writers append meanwhile and swaps the new log in; <see cref="Compact"/>
/// states the order of the swap that keeps every acknowledged record durable.
/// </summary>
public sealed partial class StreamArchiver
{
    /// <summary>Tail left for the final copy under the lock; the rest is copied while writers go on.</summary>
    private const long FinalTailBytes = 64 * 1024;

    /// <summary>At most this many copy-and-fsync rounds before the swap, so that writers faster than the disk cannot
    /// keep a compaction from finishing.</summary>
    private const int MaxCatchUpRounds = 4;

    /// <summary>
    /// Rewrites the log from the cache's current state while the cache keeps serving. Returns the compaction already
    /// running, if there is one.
    /// </summary>
    public Task CompactAsync()
    {
        lock (_gate)
        {
            if (_compaction is { IsCompleted: false } running)
            {
                return running;
            }
            // Once DisposeAsync has begun, it has awaited or is awaiting the last compaction: no new one may start.
            if (_cache is null || _writer is null || Volatile.Read(ref _disposed) == 1)
            {
                throw new InvalidOperationException("The archiver compacts only between Restore and DisposeAsync.");
            }
            return _compaction = Task.Run(() => Compact(_cache, _stopping.Token));
        }
    }

    /// <summary>The work between a restore and <see cref="DisposeAsync"/>: the interval fsync, and a compaction check
    /// every <see cref="StreamArchiverOptions.CompactionCheckInterval"/>.</summary>
    private async Task RunBackgroundAsync(CancellationToken stopping)
    {
        // A failed fsync is recorded in the latch by the group sync itself.
        await using var intervalSync = _persistence.Sync == SyncMode.Interval
            ? new IntervalSync(_groupSync, _persistence.SyncInterval)
            : null;
        using var timer = new PeriodicTimer(_options.CompactionCheckInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                if (CompactionIsDue())
                {
                    await Quietly(CompactAsync());
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void CheckCompaction()
    {
        try
        {
            if (CompactionIsDue())
            {
                _ = CompactAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Disposed meanwhile: nothing left to compact.
        }
        finally
        {
            Volatile.Write(ref _checkQueued, 0);
        }
    }

    /// <summary>Past the size bound, or needed to repair a lost write or to drop damage.</summary>
    private bool CompactionIsDue() =>
        _failures.Current is not null || Volatile.Read(ref _holdsDamage) || Volatile.Read(ref _logLength) > UpdateBound().CompactAt;

    /// <summary>Sets the log's bound from the cache's live data now. Takes the cache's locks: never call it under
    /// <see cref="_gate"/> or from <see cref="OnChange"/>.</summary>
    private LogSizeBound UpdateBound()
    {
        var bound = LogSizeBound.For(EstimatedLiveBytes(), _options.CompactBytes);
        Volatile.Write(ref _bound, bound);
        return bound;
    }

    /// <summary>About what a compaction would write now: each live item as one store record. 0 before a restore.</summary>
    private long EstimatedLiveBytes()
    {
        if (_cache is null)
        {
            return 0;
        }
        return _cache.UsedBytes + _cache.CountItems() * (LogSizeBound.EstimatedRecordOverhead - CacheLimits.ItemOverheadBytes);
    }

    private void Compact(IRestorableCache cache, CancellationToken stopping)
    {
        var started = Stopwatch.GetTimestamp();
        long start;
        ulong sequence;
        long repair;
        lock (_gate)
        {
            start = LiveLogEndLocked();
            sequence = _sequence;
            repair = _failures.BeginRepair();
        }

        long before, after;
        StreamLogWriter old;
        try
        {
            using var compactor = new StreamCompactor(_persistence.DataDirectory, start, CompactionPhaseReached);
            compactor.WriteSnapshot(cache.PendingFlushAt, cache.SnapshotItems(), sequence, stopping);
            CatchUp(compactor, stopping);

            // The swap. Writers wait only for the last small copy and the rename; fsync rounds (and with them the
            // commits that wait for one) wait for the whole swap. The order keeps every acknowledged record durable
            // under whichever name a power loss leaves, and every written record in the log a process crash leaves:
            // 1. Take _syncGate, then note the live log's end E. A record is acknowledged only after an fsync round,
            //    and rounds run under _syncGate, so every record acknowledged so far lies before E, and none after E
            //    is acknowledged until the gate is released.
            // 2. Copy up to E and fsync the new file: it now holds every acknowledged record on disk. From the rename
            //    on, the journal may make the new name durable at any moment, so this must come before it.
            // 3. Under _gate, copy the rest and rename: appends stop only here, so no written record is left behind
            //    in the old file, and from the rename on every append goes to the file the name points to.
            // 4. fsync the new file (the records after E) and the directory (the rename). Until then a power loss may
            //    bring back the old log, which is complete for every acknowledged record; after it the new log is.
            //    Only then may an fsync round acknowledge a record that exists only in the new log.
            lock (_syncGate)
            {
                compactor.CopyTail(LiveLogEnd());
                compactor.SyncForInstall();
                CopyTailUntilSmall(compactor, stopping);
                lock (_gate)
                {
                    old = _writer!;
                    before = LiveLogEndLocked();
                    compactor.CopyTail(before);
                    _writer = compactor.Install();
                    after = _writer.Length;
                    Volatile.Write(ref _logLength, after);
                }
                try
                {
                    compactor.MakeInstallDurable();
                    // Every change the cache made before this compaction began is in the snapshot, and the new log
                    // is durable under its name, so a write or fsync that failed before then is repaired; one that
                    // failed while it ran may be missing from both logs.
                    _failures.Repaired(repair);
                    Volatile.Write(ref _holdsDamage, false);
                }
                catch (IOException ex)
                {
                    // The new log is in use either way; what it holds after the noted end, or its name, may not be
                    // durable.
                    RememberFailure(ex);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("{File}: compaction failed, the log stays as it was: {Error}", StreamLogFormat.LogFileName, ex.Message);
            return;
        }
        // No fsync round can reach the old writer now (they fsync the current one, under _syncGate), and closing the
        // renamed-over file frees its blocks, which is not for any lock to wait on.
        old.Dispose();

        UpdateBound();
        Interlocked.Increment(ref _compactions);
        _logger.LogInformation("{File}: compacted {Before} bytes to {After} bytes in {Milliseconds} ms",
            StreamLogFormat.LogFileName, before, after, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Copies and fsyncs what writers append while the snapshot is written, without stopping them or their fsyncs,
    /// until what arrives during a round is small or stops shrinking (writers keep pace with the copy): what is left
    /// is copied and fsynced at the swap, where fsync rounds wait for it.
    /// </summary>
    private void CatchUp(StreamCompactor compactor, CancellationToken stopping)
    {
        var left = long.MaxValue;
        for (var round = 0; round < MaxCatchUpRounds; round++)
        {
            CopyTailUntilSmall(compactor, stopping);
            compactor.Sync();
            var arrived = LiveLogEnd() - compactor.Copied;
            if (arrived <= FinalTailBytes || arrived >= left)
            {
                return;
            }
            left = arrived;
        }
    }

    /// <summary>Copies the live log's new records until at most <see cref="FinalTailBytes"/> are left.</summary>
    private void CopyTailUntilSmall(StreamCompactor compactor, CancellationToken stopping)
    {
        while (true)
        {
            var end = LiveLogEnd();
            if (end - compactor.Copied <= FinalTailBytes)
            {
                return;
            }
            stopping.ThrowIfCancellationRequested();
            compactor.CopyTail(end);
        }
    }

    /// <summary>Where the live log's records end in its file, for the compaction to copy up to.</summary>
    private long LiveLogEnd()
    {
        lock (_gate)
        {
            return LiveLogEndLocked();
        }
    }

    /// <summary>
    /// <see cref="LiveLogEnd"/> for a caller that holds <see cref="_gate"/>. The records still pending in the writer's
    /// buffer are written first, so that the copy carries them; a failed write is latched as at a commit.
    /// </summary>
    private long LiveLogEndLocked()
    {
        WritePendingLocked();
        return _writer!.Length;
    }
}

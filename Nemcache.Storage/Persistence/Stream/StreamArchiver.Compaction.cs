using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// StreamArchiver's compaction: when it is due (past the size bound, or to repair a failed write or drop damage), and
/// the compaction itself, which copies what writers append meanwhile and swaps the new log in under the lock.
/// </summary>
public sealed partial class StreamArchiver
{
    /// <summary>Tail left for the final copy under the lock; the rest is copied while writers go on.</summary>
    private const long FinalTailBytes = 64 * 1024;

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
            start = _writer!.Length;
            sequence = _sequence;
            repair = _failures.BeginRepair();
        }

        long before, after;
        try
        {
            using var compactor = new StreamCompactor(_persistence.DataDirectory, start, CompactionPhaseReached);
            compactor.WriteSnapshot(cache.PendingFlushAt, cache.SnapshotItems(), sequence, stopping);
            // Copy what writers appended meanwhile without stopping them, until little is left for the final copy.
            while (true)
            {
                long end;
                lock (_gate)
                {
                    end = _writer!.Length;
                }
                if (end - compactor.Copied <= FinalTailBytes)
                {
                    break;
                }
                stopping.ThrowIfCancellationRequested();
                compactor.CopyTail(end);
            }
            compactor.Sync();

            lock (_gate)
            {
                var old = _writer!;
                // The old log's pending records go into it first, so that the tail copy carries them.
                WritePendingLocked();
                before = old.Length;
                compactor.CopyTail(before);
                _writer = compactor.Install();
                after = _writer.Length;
                Volatile.Write(ref _logLength, after);
                lock (_syncGate)
                {
                    old.Dispose();
                }
                try
                {
                    compactor.SyncDirectory();
                }
                catch (IOException ex)
                {
                    // The new log is in use either way; only the rename's durability is in doubt.
                    RememberFailure(ex);
                }
                // Every change the cache made before this compaction began is in the snapshot, and the new log is
                // fsynced, so a write or fsync that failed before then is repaired; one that failed while it ran may
                // be missing from both logs.
                _failures.Repaired(repair);
                _holdsDamage = false;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("{File}: compaction failed, the log stays as it was: {Error}", StreamLogFormat.LogFileName, ex.Message);
            return;
        }

        UpdateBound();
        Interlocked.Increment(ref _compactions);
        _logger.LogInformation("{File}: compacted {Before} bytes to {After} bytes in {Milliseconds} ms",
            StreamLogFormat.LogFileName, before, after, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
}

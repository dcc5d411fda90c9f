using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// When merges run: on the engine's background queue, one at a time, when <see cref="DataFileSet.MergeIsDue"/> says
/// so, when asked, and when merging has fallen behind the disk bound (a commit then waits for a merge of every
/// immutable file). A merge that failed after its commit stops merging until a restart finishes it.
/// <para>
/// Its lock nests inside the file set's (rotation asks <see cref="MaybeStart"/> under that lock), so nothing here calls
/// the file set while holding it.
/// </para>
/// </summary>
internal sealed class MergeSchedule(DataFileSet files, BackgroundQueue background, ILogger logger, TimeProvider time)
{
    private readonly Lock _gate = new();
    private bool _queued;
    private string? _unfinishedMerge;
    /// <summary>The catch-up merge while one is queued or running, as the task commits wait on: it never faults.</summary>
    private Task? _catchUpMerge;
    private bool _closed;
    private long _mergesRun;
    private long _writerWaits;

    /// <summary>Test hook: called as a merge reaches each phase; throwing from it stops the merge there, as a crash would.</summary>
    internal Action<MergePhase>? PhaseReached { get; set; }

    public long MergesRun => Interlocked.Read(ref _mergesRun);

    /// <summary>How many commits have waited for a merge to catch up.</summary>
    public long WriterWaits => Interlocked.Read(ref _writerWaits);

    /// <summary>Queues a merge of what the automatic trigger picks, when the file set says one is due.</summary>
    public void MaybeStart()
    {
        if (!files.MergeIsDue())
        {
            return;
        }
        lock (_gate)
        {
            if (_queued || _closed || _unfinishedMerge is not null)
            {
                return;
            }
            _queued = true;
            background.Enqueue(() => Run(all: false));
        }
    }

    /// <summary>Merges every immutable file (<paramref name="all"/>) or only what the automatic trigger would pick;
    /// completes when that merge is done.</summary>
    public Task MergeAsync(bool all) => background.Enqueue(() => Run(all));

    /// <summary>
    /// When writes outrun merging, a commit waits for a merge of every immutable file (which leaves next to no dead
    /// bytes in them) rather than let the disk fill: writes then go at the pace merges can reclaim. The wait is the
    /// commit's, not the write's: a write runs under the cache's shard lock, and a reader of that shard must not wait
    /// for a merge. Completes at once when merging is not behind; a merge that fails, or merging stopped after a failed
    /// commit, does not hold commits back (the returned task never faults).
    /// </summary>
    public Task CaughtUp()
    {
        if (!files.MergingIsBehind)
        {
            return Task.CompletedTask;
        }
        Task merge;
        lock (_gate)
        {
            if (_closed || _unfinishedMerge is not null || !files.MergingIsBehind)
            {
                return Task.CompletedTask;
            }
            // One wait for every commit that finds merging behind; the queue has logged a failure, and commits go on.
            merge = _catchUpMerge ??= background.Enqueue(CatchUp).ContinueWith(static _ => { }, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        Interlocked.Increment(ref _writerWaits);
        return merge;
    }

    /// <summary>No merge is queued from now on; one already queued returns without merging.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
        }
    }

    private void CatchUp()
    {
        try
        {
            Run(all: true);
        }
        finally
        {
            // Cleared before the task is: a writer that finds no catch-up merge must not find merging behind either.
            files.MergeCaughtUp();
            lock (_gate)
            {
                _catchUpMerge = null;
            }
        }
    }

    private void Run(bool all)
    {
        lock (_gate)
        {
            _queued = false;
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
        if (!RunOne(all))
        {
            RunOne(all: true);
        }
    }

    private bool RunOne(bool all)
    {
        var merger = new Merger(files, logger, phase => PhaseReached?.Invoke(phase));
        try
        {
            if (!merger.Run(all, time.GetUtcNow().ToUnixTimeSeconds()))
            {
                return false;
            }
        }
        catch (Exception ex) when (merger.Committed && !merger.Finished)
        {
            StopAfterFailedCommit(ex);
            throw;
        }
        if (merger.Finished)
        {
            Interlocked.Increment(ref _mergesRun);
        }
        return true;
    }

    /// <summary>
    /// A merge failed after writing MERGE: its inputs may still be on disk while the engine no longer counts them, so a
    /// later merge could drop a tombstone that still hides one of their records, and would overwrite MERGE. Merging
    /// stops; the next start finishes the committed merge from MERGE before it reads any file.
    /// </summary>
    private void StopAfterFailedCommit(Exception failure)
    {
        lock (_gate)
        {
            _unfinishedMerge = failure.Message;
        }
        logger.LogError(failure, "A merge failed after its commit; merging is stopped until a restart finishes it");
    }
}

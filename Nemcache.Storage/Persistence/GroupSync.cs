using System.Diagnostics;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// Group commit: makes written records durable with as few fsyncs as the load allows. A plugin calls
/// <see cref="MarkWritten"/> after each record reaches the OS; a caller that needs everything written so far on disk
/// awaits <see cref="SyncAsync"/>. One fsync runs at a time; everyone who asks while it runs shares the next one, so
/// under load the number of fsyncs per second stays near the disk's rate while the number of commits per second grows
/// with the number of waiting connections.
/// <para>
/// A failed fsync is recorded in <see cref="Failures"/> like a failed write, and it sticks: until the plugin's repair
/// clears the latch, every <see cref="SyncAsync"/> faults without fsyncing, since no later fsync can make up for pages
/// the kernel dropped. A repair fsyncs the files it writes itself.
/// </para>
/// </summary>
public sealed class GroupSync
{
    private readonly Action _fsync;
    private readonly object _gate = new();
    private long _written;
    private long _synced;
    private bool _running;
    private bool _nextRoundWanted;
    private TaskCompletionSource _nextRound = NewRound();

    /// <param name="fsync">Flushes every file the plugin has written to, down to the disk. Called on a pool thread,
    /// never twice at once.</param>
    /// <param name="failures">The plugin's failure latch, which its failed writes go to as well; without one the
    /// group sync keeps its own.</param>
    public GroupSync(Action fsync, FailureLatch? failures = null)
    {
        _fsync = fsync;
        Failures = failures ?? new FailureLatch();
    }

    /// <summary>Where a failed fsync is recorded; while it holds a failure, no sync succeeds.</summary>
    public FailureLatch Failures { get; }

    /// <summary>How many fsync calls have completed; for stats and tests.</summary>
    public long SyncCount { get; private set; }

    /// <summary>Counts one more record as written to the OS. Call it after the write returns.</summary>
    public void MarkWritten() => Interlocked.Increment(ref _written);

    /// <summary>True when some written record has not been fsynced yet.</summary>
    public bool HasUnsynced
    {
        get { lock (_gate) return _written > _synced; }
    }

    /// <summary>
    /// Completes once every record marked written before this call has been fsynced. Faults with
    /// <see cref="PersistenceException"/> when the fsync that would have covered it failed, or while
    /// <see cref="Failures"/> holds a failure.
    /// </summary>
    public ValueTask SyncAsync()
    {
        if (Failures.Current is { } failure)
        {
            return ValueTask.FromException(Refusal(failure));
        }
        lock (_gate)
        {
            if (Volatile.Read(ref _written) <= _synced)
            {
                return ValueTask.CompletedTask;
            }
            _nextRoundWanted = true;
            var round = _nextRound.Task;
            if (!_running)
            {
                _running = true;
                ThreadPool.UnsafeQueueUserWorkItem(static self => self.RunRounds(), this, preferLocal: false);
            }
            return new ValueTask(round);
        }
    }

    private void RunRounds()
    {
        while (true)
        {
            TaskCompletionSource round;
            long target;
            lock (_gate)
            {
                if (!_nextRoundWanted)
                {
                    _running = false;
                    return;
                }
                round = _nextRound;
                _nextRound = NewRound();
                _nextRoundWanted = false;
                target = Volatile.Read(ref _written);
            }

            // A round queued before a failure was recorded must not fsync after it: that fsync could succeed
            // without the pages the failed one lost.
            var failure = Failures.Current is { } earlier ? Refusal(earlier) : null;
            if (failure is null)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    _fsync();
                }
                catch (Exception ex)
                {
                    failure = new PersistenceException($"fsync failed: {ex.Message}", ex);
                    Failures.Record(failure);
                }
                PersistenceMeter.FsyncDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }

            lock (_gate)
            {
                if (failure is null)
                {
                    _synced = Math.Max(_synced, target);
                    SyncCount++;
                }
            }

            if (failure is null)
            {
                round.SetResult();
            }
            else
            {
                round.SetException(failure);
            }
        }
    }

    private static PersistenceException Refusal(Exception failure) =>
        new($"not synced, an earlier write or fsync failed: {failure.Message}", failure);

    private static TaskCompletionSource NewRound() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

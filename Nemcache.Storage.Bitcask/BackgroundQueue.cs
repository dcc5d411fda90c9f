using Microsoft.Extensions.Logging;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Runs an engine's background work (merges, hint writes) one job at a time, in the order queued, on the thread pool.
/// One at a time is what keeps a merge from deleting a file a hint writer is reading, and two merges apart.
/// </summary>
internal sealed class BackgroundQueue(ILogger logger)
{
    private readonly Lock _gate = new();
    private Task _tail = Task.CompletedTask;

    /// <summary>Queues a job; the task returned completes (or faults) with it. A failure is also logged.</summary>
    public Task Enqueue(Action work)
    {
        lock (_gate)
        {
            var job = _tail.ContinueWith(_ => work(), CancellationToken.None,
                TaskContinuationOptions.DenyChildAttach, TaskScheduler.Default);
            _tail = job.ContinueWith(t =>
            {
                if (t.Exception is { } ex)
                {
                    logger.LogError(ex.InnerException, "Background Bitcask work failed");
                }
            }, TaskScheduler.Default);
            return job;
        }
    }

    /// <summary>Waits for every job queued so far. Never throws: the tail only logs failures.</summary>
    public void Drain()
    {
        Task tail;
        lock (_gate)
        {
            tail = _tail;
        }
        tail.Wait();
    }
}

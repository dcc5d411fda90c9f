using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// Replays beside the reading: the reading thread checks and decodes each frame and copies out its key and value,
/// and one more thread applies the records to an <see cref="IReplayTarget"/> (the cache, or the map of
/// <see cref="StreamLogReplay"/>) in batches, in log order. The target's hashing and memory misses then take a second
/// core instead of adding to the reading's time. At most <see cref="BatchesAhead"/> batches wait, so the reading cannot
/// run far ahead of the target.
/// </summary>
internal sealed class ReplayPipeline : IDisposable
{
    private const int BatchSize = 1024;
    private const int BatchesAhead = 8;

    /// <summary>The most keys a target is sized for up front; beyond it the target grows as it fills.</summary>
    private const int MaxExpectedRecords = 1 << 28;

    private readonly IReplayTarget _replay;
    private readonly BlockingCollection<Batch> _full = new(BatchesAhead);
    private readonly ConcurrentBag<Batch> _free = [];
    private readonly Task _applying;
    private Batch _filling = new();
    private Exception? _failure;
    private long _expectedRecords;

    /// <summary>Reads the log at <paramref name="path"/> (<see cref="StreamLogReader"/>) and applies every good record
    /// to <paramref name="target"/>; returns what the reading found.</summary>
    public static LogScan Read(string path, IReplayTarget target)
    {
        using var pipeline = new ReplayPipeline(target);
        var scan = StreamLogReader.Read(path, pipeline.Add, pipeline.ExpectRecords);
        pipeline.Complete();
        return scan;
    }

    private ReplayPipeline(IReplayTarget replay)
    {
        _replay = replay;
        _applying = Task.Factory.StartNew(ApplyBatches, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Takes the next good record; its spans are copied before this returns.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    private void Add(in LogRecordView record)
    {
        _filling.Records[_filling.Count++] = ReplayRecord.Own(record);
        if (_filling.Count == BatchSize)
        {
            _full.Add(_filling);
            _filling = _free.TryTake(out var batch) ? batch : new Batch();
        }
    }

    /// <summary>Passes on the reader's estimate of the log's records; the target is sized on the applying thread, which owns it.</summary>
    private void ExpectRecords(long records) => Volatile.Write(ref _expectedRecords, Math.Min(records, MaxExpectedRecords));

    /// <summary>Waits until every record added is applied; throws what applying them threw.</summary>
    private void Complete()
    {
        if (_filling.Count > 0)
        {
            _full.Add(_filling);
            _filling = new Batch();
        }
        _full.CompleteAdding();
        _applying.GetAwaiter().GetResult();
        if (_failure is not null)
        {
            ExceptionDispatchInfo.Throw(_failure);
        }
    }

    /// <summary>Ends the applying thread when the reading failed before <see cref="Complete"/>.</summary>
    public void Dispose()
    {
        if (!_full.IsAddingCompleted)
        {
            _full.CompleteAdding();
            _applying.GetAwaiter().GetResult();
        }
        _full.Dispose();
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void ApplyBatches()
    {
        foreach (var batch in _full.GetConsumingEnumerable())
        {
            // After a failure the batches are only drained, so that the reading never waits for room that never comes.
            if (_failure is null)
            {
                try
                {
                    if (Interlocked.Exchange(ref _expectedRecords, 0) is var expected and > 0)
                    {
                        _replay.ExpectRecords((int)expected);
                    }
                    for (var i = 0; i < batch.Count; i++)
                    {
                        _replay.Apply(in batch.Records[i]);
                    }
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            }
            Array.Clear(batch.Records, 0, batch.Count);
            batch.Count = 0;
            _free.Add(batch);
        }
    }

    private sealed class Batch
    {
        public readonly ReplayRecord[] Records = new ReplayRecord[BatchSize];
        public int Count;
    }
}

/// <summary>What replay applies a log's good records to, one at a time and in log order, on one thread.</summary>
internal interface IReplayTarget
{
    /// <summary>The reader's estimate of the log's records (at most <see cref="ReplayPipeline"/>'s bound), before the
    /// first of them, to size tables up front.</summary>
    void ExpectRecords(int records);

    /// <summary>Applies one record; a store's key and value become the target's.</summary>
    void Apply(in ReplayRecord record);
}

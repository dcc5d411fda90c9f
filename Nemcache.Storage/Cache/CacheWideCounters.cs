namespace Nemcache.Storage.Cache;

/// <summary>
/// The `stats` counters that belong to no shard: flush_all commands, stores refused as too large, and periodic reclaim
/// runs. Counted with atomic increments; `stats reset` zeroes them with the shards' counters.
/// </summary>
internal sealed class CacheWideCounters
{
    private long _flushCommands;
    private long _storeTooLarge;
    private long _reclaimRuns;

    public long FlushCommands => Volatile.Read(ref _flushCommands);
    public long StoreTooLarge => Volatile.Read(ref _storeTooLarge);
    public long ReclaimRuns => Volatile.Read(ref _reclaimRuns);

    public void CountFlushCommand() => Interlocked.Increment(ref _flushCommands);
    public void CountStoreTooLarge() => Interlocked.Increment(ref _storeTooLarge);
    public void CountReclaimRun() => Interlocked.Increment(ref _reclaimRuns);

    public void Reset()
    {
        Interlocked.Exchange(ref _flushCommands, 0);
        Interlocked.Exchange(ref _storeTooLarge, 0);
        Interlocked.Exchange(ref _reclaimRuns, 0);
    }
}

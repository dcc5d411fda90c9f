namespace Nemcache.Storage.Cache;

/// <summary>
/// The bytes all shards' items count against the memory limit (<see cref="CacheEntry.Footprint"/>), summed across
/// shards so that eviction can tell without a lock whether the cache is over its limit. Only <see cref="CacheShard"/>
/// changes it, in the same step as its own byte count, so the two never disagree for longer than that step.
/// </summary>
internal sealed class CacheMemory(long limitBytes)
{
    private long _used;

    public long LimitBytes { get; } = limitBytes;

    public long UsedBytes => Volatile.Read(ref _used);

    public bool IsOverLimit => Volatile.Read(ref _used) > LimitBytes;

    public void Add(long bytes) => Interlocked.Add(ref _used, bytes);
}

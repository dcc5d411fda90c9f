namespace Nemcache.Storage.Cache;

/// <summary>
/// memcached's per-command counters for one shard. Incremented only under the shard's lock, so plain increments are
/// safe and no cache line is shared between cores; <see cref="MemCache.GetStatistics"/> sums the shards.
/// </summary>
internal struct ShardCounters
{
    public long GetHits, GetMisses, GetExpired, GetFlushed;
    public long Sets;
    public long TouchHits, TouchMisses;
    public long DeleteHits, DeleteMisses;
    public long IncrHits, IncrMisses, DecrHits, DecrMisses;
    public long CasHits, CasMisses, CasBadValue;
    public long Evictions, Reclaimed, TotalItems;
    public long Bytes;

    /// <summary>`stats reset`: zeroes the command counters; <see cref="Bytes"/> describes contents, not history, and stays.</summary>
    public void Reset() => this = new ShardCounters { Bytes = Bytes };
}

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
    public long EvictedNonzero, EvictedUnfetched, ExpiredUnfetched;
    public long CrawlerReclaimed, CrawlerItemsChecked;

    /// <summary><see cref="AccessClock"/> at the shard's last capacity eviction (0: none yet), and how long
    /// the evicted item had gone unused: memcached's evicted_time.</summary>
    public long LastEvictionTicks, LastEvictedIdleMilliseconds;

    /// <summary>What the shard's items count against the memory limit; <see cref="CacheShard"/> alone changes it.</summary>
    public long Bytes;

    /// <summary>`stats reset`: zeroes the command counters; <see cref="Bytes"/> describes contents, not history, and stays.</summary>
    public void Reset() => this = new ShardCounters { Bytes = Bytes };

    /// <summary>Adds another shard's counters; the eviction time is the later one's.</summary>
    public void Add(in ShardCounters c)
    {
        GetHits += c.GetHits; GetMisses += c.GetMisses; GetExpired += c.GetExpired; GetFlushed += c.GetFlushed;
        Sets += c.Sets;
        TouchHits += c.TouchHits; TouchMisses += c.TouchMisses;
        DeleteHits += c.DeleteHits; DeleteMisses += c.DeleteMisses;
        IncrHits += c.IncrHits; IncrMisses += c.IncrMisses; DecrHits += c.DecrHits; DecrMisses += c.DecrMisses;
        CasHits += c.CasHits; CasMisses += c.CasMisses; CasBadValue += c.CasBadValue;
        Evictions += c.Evictions; Reclaimed += c.Reclaimed; TotalItems += c.TotalItems;
        EvictedNonzero += c.EvictedNonzero; EvictedUnfetched += c.EvictedUnfetched; ExpiredUnfetched += c.ExpiredUnfetched;
        CrawlerReclaimed += c.CrawlerReclaimed; CrawlerItemsChecked += c.CrawlerItemsChecked;
        if (c.LastEvictionTicks > LastEvictionTicks)
        {
            LastEvictionTicks = c.LastEvictionTicks;
            LastEvictedIdleMilliseconds = c.LastEvictedIdleMilliseconds;
        }
        Bytes += c.Bytes;
    }
}

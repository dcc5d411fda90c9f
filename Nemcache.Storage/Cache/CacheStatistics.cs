namespace Nemcache.Storage.Cache;

/// <summary>The cache's figures for `stats`, summed over the shards at one moment.</summary>
public sealed class CacheStatistics
{
    internal CacheStatistics(in ShardCounters totals, in CacheFigures figures, long limitBytes)
    {
        GetHits = totals.GetHits;
        GetMisses = totals.GetMisses;
        GetExpired = totals.GetExpired;
        GetFlushed = totals.GetFlushed;
        SetCommands = totals.Sets;
        TouchHits = totals.TouchHits;
        TouchMisses = totals.TouchMisses;
        DeleteHits = totals.DeleteHits;
        DeleteMisses = totals.DeleteMisses;
        IncrHits = totals.IncrHits;
        IncrMisses = totals.IncrMisses;
        DecrHits = totals.DecrHits;
        DecrMisses = totals.DecrMisses;
        CasHits = totals.CasHits;
        CasMisses = totals.CasMisses;
        CasBadValue = totals.CasBadValue;
        Evictions = totals.Evictions;
        Reclaimed = totals.Reclaimed;
        TotalItems = totals.TotalItems;
        Bytes = totals.Bytes;
        EvictedNonzero = totals.EvictedNonzero;
        EvictedUnfetched = totals.EvictedUnfetched;
        ExpiredUnfetched = totals.ExpiredUnfetched;
        CrawlerReclaimed = totals.CrawlerReclaimed;
        CrawlerItemsChecked = totals.CrawlerItemsChecked;
        CurrentItems = figures.CurrentItems;
        FlushCommands = figures.FlushCommands;
        ObserverFailures = figures.ObserverFailures;
        StoreTooLarge = figures.StoreTooLarge;
        ReclaimRuns = figures.ReclaimRuns;
        OldestItemIdleSeconds = figures.OldestItemIdleSeconds;
        LastEvictedIdleSeconds = figures.LastEvictedIdleSeconds;
        LimitBytes = limitBytes;
    }

    public long GetHits { get; }
    public long GetMisses { get; }
    public long GetExpired { get; }
    public long GetFlushed { get; }
    public long SetCommands { get; }
    public long TouchHits { get; }
    public long TouchMisses { get; }
    public long DeleteHits { get; }
    public long DeleteMisses { get; }
    public long IncrHits { get; }
    public long IncrMisses { get; }
    public long DecrHits { get; }
    public long DecrMisses { get; }
    public long CasHits { get; }
    public long CasMisses { get; }
    public long CasBadValue { get; }
    public long Evictions { get; }
    public long Reclaimed { get; }
    public long TotalItems { get; }
    /// <summary>Bytes counted against the memory limit: keys, values and per-item overhead.</summary>
    public long Bytes { get; }
    /// <summary>Capacity evictions of items that had an expiry.</summary>
    public long EvictedNonzero { get; }
    /// <summary>Capacity evictions of items nobody had read since they were stored.</summary>
    public long EvictedUnfetched { get; }
    /// <summary>Expired items reclaimed without anybody having read them since they were stored.</summary>
    public long ExpiredUnfetched { get; }
    /// <summary>Expired items the periodic reclaim (<see cref="MemCache.ReclaimExpired"/>) removed: memcached's crawler.</summary>
    public long CrawlerReclaimed { get; }
    /// <summary>Items the periodic reclaim looked at.</summary>
    public long CrawlerItemsChecked { get; }
    /// <summary>How many times the periodic reclaim ran.</summary>
    public long ReclaimRuns { get; }
    /// <summary>Stores refused because the value was over the item size limit.</summary>
    public long StoreTooLarge { get; }
    /// <summary>Seconds since the least recently used item was last used: memcached's LRU age.</summary>
    public long OldestItemIdleSeconds { get; }
    /// <summary>How long the most recently evicted item had gone unused, in seconds: memcached's evicted_time.</summary>
    public long LastEvictedIdleSeconds { get; }
    public long CurrentItems { get; }
    public long FlushCommands { get; }
    public long ObserverFailures { get; }
    public long LimitBytes { get; }
}

/// <summary>The cache-wide figures that are not per-shard counters, gathered by <see cref="MemCache.GetStatistics"/>.</summary>
internal readonly record struct CacheFigures
{
    public long CurrentItems { get; init; }
    public long FlushCommands { get; init; }
    public long ObserverFailures { get; init; }
    public long StoreTooLarge { get; init; }
    public long ReclaimRuns { get; init; }
    public long OldestItemIdleSeconds { get; init; }
    public long LastEvictedIdleSeconds { get; init; }
}

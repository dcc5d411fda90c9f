namespace Nemcache.Storage.Cache;

/// <summary>The cache's figures for `stats`, summed over the shards at one moment.</summary>
public sealed class CacheStatistics
{
    internal CacheStatistics(ShardCounters totals, long currentItems, long flushCommands, long observerFailures, long limitBytes)
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
        CurrentItems = currentItems;
        FlushCommands = flushCommands;
        ObserverFailures = observerFailures;
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
    public long CurrentItems { get; }
    public long FlushCommands { get; }
    public long ObserverFailures { get; }
    public long LimitBytes { get; }
}

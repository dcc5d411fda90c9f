namespace Nemcache.Storage.Cache;

/// <summary>The cache's size limits. Defaults are memcached's.</summary>
public sealed record CacheOptions
{
    /// <summary>Bytes of keys, values and per-item overhead the cache may hold before LRU eviction (-m).</summary>
    public long MemoryLimitBytes { get; init; } = CacheLimits.DefaultMemoryLimitMegabytes * 1024 * 1024;

    /// <summary>The largest item, in bytes (-I), counted as memcached counts it: see <see cref="CacheLimits.ItemFits"/>.</summary>
    public int MaxItemSize { get; init; } = CacheLimits.DefaultMaxItemSize;

    /// <summary>Whether an item of these sizes fits <see cref="MaxItemSize"/>, by <see cref="CacheLimits.ItemFits"/>.</summary>
    public bool ItemFits(int keyLength, uint flags, long valueLength) =>
        CacheLimits.ItemFits(MaxItemSize, keyLength, flags, valueLength);
}

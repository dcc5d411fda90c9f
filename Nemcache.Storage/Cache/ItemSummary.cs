namespace Nemcache.Storage.Cache;

/// <summary>
/// What a key listing (memcached's `stats cachedump` and `lru_crawler metadump`) shows of one item: no value bytes.
/// <paramref name="LastAccessedAt"/> and <paramref name="ExpiresAt"/> are unix seconds (expiry 0: never);
/// <paramref name="Footprint"/> is what the item counts against the memory limit.
/// </summary>
public readonly record struct ItemSummary(byte[] Key, int ValueLength, long ExpiresAt, long LastAccessedAt, ulong Cas,
    bool Fetched, long Footprint);

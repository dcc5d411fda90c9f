namespace Nemcache.Storage.Cache;

/// <summary>
/// The limits memcached 1.6 enforces, stated once. The protocol layer checks them before it allocates anything;
/// <see cref="MemCache"/> checks them again so that no caller can store past them.
/// </summary>
public static class CacheLimits
{
    /// <summary>memcached's KEY_MAX_LENGTH.</summary>
    public const int MaxKeyLength = 250;

    /// <summary>An exptime up to this many seconds is relative to now; above it, an absolute unix time.</summary>
    public const long MaxRelativeExpirySeconds = 60 * 60 * 24 * 30;

    /// <summary>memcached's default -I (item_size_max).</summary>
    public const int DefaultMaxItemSize = 1024 * 1024;

    /// <summary>The smallest -I memcached accepts.</summary>
    public const int MinMaxItemSize = 1024;

    /// <summary>The largest -I memcached accepts (1 GiB).</summary>
    public const int MaxMaxItemSize = 1024 * 1024 * 1024;

    /// <summary>memcached's default -m, in megabytes.</summary>
    public const long DefaultMemoryLimitMegabytes = 64;

    /// <summary>memcached 1.6's item header on a 64-bit build: sizeof(item).</summary>
    public const int MemcachedItemHeaderBytes = 48;

    /// <summary>
    /// memcached's rule for whether an item fits -I, applied by every protocol alike: its whole allocation must fit,
    /// not only its value. That is the item header, the key and its NUL, the client flags when they are not 0, the
    /// value and its CRLF, and the CAS; so with flags 0 the largest value is -I minus 59 minus the key's length, and a
    /// value of exactly -I bytes never fits (memcached 1.6.18's item_size_ok).
    /// </summary>
    public static bool ItemFits(int maxItemSize, int keyLength, uint flags, long valueLength) =>
        MemcachedItemHeaderBytes + keyLength + 1 + (flags == 0 ? 0 : sizeof(uint)) + valueLength + 2 + sizeof(ulong)
        <= maxItemSize;

    /// <summary>
    /// What one item costs beyond its key and value bytes, counted against the memory limit: the shard's entry slot
    /// and bucket, the two array headers and their rounding, rounded up (measured on x64, .NET 10).
    /// </summary>
    public const int ItemOverheadBytes = 120;

    /// <summary>
    /// The latest expiry the cache holds, in unix seconds (2106-02-07): expiries are held in 32 bits, as memcached's
    /// are, and a later one is held as this second.
    /// </summary>
    public const long LatestExpiry = uint.MaxValue;
}

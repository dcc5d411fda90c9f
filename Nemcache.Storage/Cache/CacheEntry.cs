namespace Nemcache.Storage.Cache;

/// <summary>One item as its shard holds it. Mutable only under the shard's lock; the arrays themselves never change.</summary>
internal sealed class CacheEntry(byte[] key)
{
    public readonly byte[] Key = key;
    public byte[] Value = [];
    public uint Flags;
    public long ExpiresAt;
    public ulong Cas;

    /// <summary><see cref="AccessClock"/> at the last hit or store: how eviction compares shards' tails.</summary>
    public long LastAccess;

    /// <summary>Meta get's h: a read has fetched it since it was stored.</summary>
    public bool Fetched;

    /// <summary>Invalidated (meta delete or meta set with I): readers are told to recache. Kept in memory only.</summary>
    public bool Stale;

    /// <summary>A reader has won the right to recache this item; later readers are told another one has. Memory only.</summary>
    public bool WinTokenSent;

    /// <summary>LRU links within the shard: <see cref="Newer"/> points towards the most recently used entry.</summary>
    public CacheEntry? Newer;
    public CacheEntry? Older;

    /// <summary>What this entry counts against the memory limit.</summary>
    public long Footprint => Key.Length + Value.Length + CacheLimits.ItemOverheadBytes;

    public CacheItem ToItem() => new(Key, Value, Flags, ExpiresAt, Cas);
}

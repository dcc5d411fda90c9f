namespace Nemcache.Storage.Cache;

/// <summary>
/// One item as its shard holds it: a slot in the shard's entry blocks (<see cref="CacheShard"/>), reached by its slot
/// number and changed in place through a reference, only under the shard's lock. The arrays themselves never change.
/// Links are slot numbers rather than references, which with the 32-bit expiry keeps the slot at 56 bytes (docs/benchmarks.md, Memory).
/// </summary>
internal struct CacheEntry
{
    public byte[] Key;
    public byte[] Value;
    public ulong Cas;

    /// <summary><see cref="AccessClock"/> at the last hit or store: how eviction compares shards' tails.</summary>
    public long LastAccess;

    public uint Flags;

    private uint _expiresAt;

    /// <summary>The next slot in the same hash bucket plus one (0 ends the chain); for a free slot, the next free one.</summary>
    public int NextInBucket;

    /// <summary>LRU links within the shard: <see cref="Newer"/> points towards the most recently used entry.</summary>
    public int Newer;
    public int Older;

    private Marks _marks;

    /// <summary>
    /// Absolute unix seconds, 0 = never (<see cref="ExpiryClock"/>), held in 32 bits: an expiry past
    /// <see cref="CacheLimits.LatestExpiry"/> (February 2106) is held as that second.
    /// </summary>
    public long ExpiresAt
    {
        readonly get => _expiresAt;
        set => _expiresAt = (uint)Math.Clamp(value, 0, CacheLimits.LatestExpiry);
    }

    /// <summary>Meta get's h: a read has fetched it since it was stored.</summary>
    public bool Fetched
    {
        readonly get => (_marks & Marks.Fetched) != 0;
        set => Mark(Marks.Fetched, value);
    }

    /// <summary>Invalidated (meta delete or meta set with I): readers are told to recache. Kept in memory only.</summary>
    public bool Stale
    {
        readonly get => (_marks & Marks.Stale) != 0;
        set => Mark(Marks.Stale, value);
    }

    /// <summary>A reader has won the right to recache this item; later readers are told another one has. Memory only.</summary>
    public bool WinTokenSent
    {
        readonly get => (_marks & Marks.WinTokenSent) != 0;
        set => Mark(Marks.WinTokenSent, value);
    }

    /// <summary>What this entry counts against the memory limit.</summary>
    public readonly long Footprint => Key.Length + Value.Length + CacheLimits.ItemOverheadBytes;

    public readonly CacheItem ToItem() => new(Key, Value, Flags, ExpiresAt, Cas);

    /// <summary>Fetched, stale and won: memory-only marks that start afresh with each store.</summary>
    public void ClearMarks() => _marks = Marks.None;

    private void Mark(Marks mark, bool set) => _marks = set ? _marks | mark : _marks & ~mark;

    [Flags]
    private enum Marks : byte
    {
        None = 0,
        Fetched = 1,
        Stale = 2,
        WinTokenSent = 4,
    }
}

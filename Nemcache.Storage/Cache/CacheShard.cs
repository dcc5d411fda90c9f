using System.Numerics;

namespace Nemcache.Storage.Cache;

/// <summary>
/// A slice of the cache: its entries, their LRU order and their counters, all guarded by <see cref="Gate"/>. Keys map
/// to a shard by hash, so operations on different shards never contend.
/// <para>
/// The one place bytes are accounted: every change to which entries the shard holds or to an entry's value goes
/// through <see cref="Add"/>, <see cref="ReplaceValue"/>, <see cref="Remove"/> or <see cref="Clear"/>, which move the
/// shard's <see cref="ShardCounters.Bytes"/> and the cache-wide <see cref="CacheMemory"/> together.
/// </para>
/// <para>
/// Entries are <see cref="CacheEntry"/> structs in blocks of <see cref="BlockLength"/> slots that are never copied or
/// moved, named by slot number; a removed slot goes on a free list for the next add. The key table is a bucket array
/// of slot numbers chained through <see cref="CacheEntry.NextInBucket"/>. So an item costs one 56-byte slot and a
/// 4-byte bucket, with no object of its own, and growing copies only the bucket array, which stays below the large
/// object heap up to about 21,000 items a shard (docs/benchmarks.md, Memory). The slot holds no hash: a chain is
/// searched by comparing keys, and a growing table hashes each key again, since a stored hash would take the slot to
/// 64 bytes.
/// </para>
/// </summary>
internal sealed class CacheShard
{
    /// <summary>What a slot number is when there is no entry: a miss, the end of a chain, the end of the LRU.</summary>
    public const int None = -1;

    // 1,024 slots of 56 bytes: 56 KiB a block, below the large object heap's 85,000 bytes.
    private const int BlockShift = 10;
    private const int BlockLength = 1 << BlockShift;
    private const int MinBuckets = 16;

    private CacheEntry[][] _blocks = [];
    private int _slotsUsed;
    private int _freeSlot = None;
    // Slot number + 1 of each bucket's first entry, so that a new array (all zeros) is an empty table.
    private int[] _buckets = new int[MinBuckets];
    private int _bucketShift = 32 - BitOperations.Log2(MinBuckets);
    private int _count;
    private int _newest = None;
    private int _oldest = None;
    private readonly CacheMemory _memory;
    private readonly AccessClock _clock;

    public CacheShard(CacheMemory memory, AccessClock clock)
    {
        _memory = memory;
        _clock = clock;
    }

    public readonly Lock Gate = new();
    public ShardCounters Counters;

    public int Count => _count;

    /// <summary>The most recently used entry's slot; walk <see cref="CacheEntry.Older"/> from it for LRU order. Under the lock.</summary>
    public int Newest => _newest;

    /// <summary>The least recently used entry's slot. Under the lock.</summary>
    public int Oldest => _oldest;

    /// <summary>
    /// The last access of the least recently used entry, or <see cref="long.MaxValue"/> when the shard is empty. Read
    /// without the lock only as a hint for choosing a shard to evict from: it may be stale, never out of bounds.
    /// </summary>
    public long OldestAccessHint
    {
        get
        {
            var slot = Volatile.Read(ref _oldest);
            var blocks = Volatile.Read(ref _blocks);
            if (slot == None || (slot >> BlockShift) >= blocks.Length)
            {
                return long.MaxValue;
            }
            var block = blocks[slot >> BlockShift];
            return (slot & (BlockLength - 1)) < block.Length ? block[slot & (BlockLength - 1)].LastAccess : long.MaxValue;
        }
    }

    /// <summary>The entry in a slot, to read or change in place; the reference stays valid until the slot is removed.</summary>
    public ref CacheEntry this[int slot] => ref _blocks[slot >> BlockShift][slot & (BlockLength - 1)];

    /// <summary>The slot holding <paramref name="key"/>, or <see cref="None"/>; <paramref name="hash"/> is the key's <see cref="ByteKeyComparer.Hash"/>.</summary>
    public int Find(ReadOnlySpan<byte> key, int hash)
    {
        for (var next = _buckets[BucketOf(hash)]; next != 0;)
        {
            ref var entry = ref this[next - 1];
            if (key.SequenceEqual(entry.Key))
            {
                return next - 1;
            }
            next = entry.NextInBucket;
        }
        return None;
    }

    /// <summary>Sizes the key table for <paramref name="capacity"/> entries, so that a restore does not grow it step by step.</summary>
    public void EnsureCapacity(int capacity)
    {
        if (capacity > _buckets.Length)
        {
            Rehash((int)Math.Min(1 << 30, BitOperations.RoundUpToPowerOf2((uint)capacity)));
        }
    }

    /// <summary>A new entry holding <paramref name="value"/>, the most recently used; the key must not be in the shard.</summary>
    public int Add(byte[] key, int hash, byte[] value)
    {
        if (_count >= _buckets.Length)
        {
            Rehash(_buckets.Length * 2);
        }
        var slot = TakeFreeSlot();
        ref var entry = ref this[slot];
        entry = new CacheEntry { Key = key, Value = value, LastAccess = _clock.Milliseconds };
        ref var bucket = ref _buckets[BucketOf(hash)];
        entry.NextInBucket = bucket;
        bucket = slot + 1;
        _count++;
        LinkAsNewest(slot, ref entry);
        CountBytes(entry.Footprint);
        return slot;
    }

    /// <summary>Gives an entry a new value (its bytes are counted anew); its place in the LRU does not change.</summary>
    public void ReplaceValue(int slot, byte[] value)
    {
        ref var entry = ref this[slot];
        var before = entry.Footprint;
        entry.Value = value;
        CountBytes(entry.Footprint - before);
    }

    /// <summary>Removes an entry and frees its slot: read what is needed of it before.</summary>
    public void Remove(int slot)
    {
        ref var entry = ref this[slot];
        ref var link = ref _buckets[BucketOf(ByteKeyComparer.Hash(entry.Key))];
        while (link != slot + 1)
        {
            link = ref this[link - 1].NextInBucket;
        }
        link = entry.NextInBucket;
        Unlink(slot, ref entry);
        CountBytes(-entry.Footprint);
        _count--;
        entry = new CacheEntry { NextInBucket = _freeSlot + 1 };
        _freeSlot = slot;
    }

    /// <summary>Moves an entry to the LRU head: it was just read or written.</summary>
    public void MarkUsed(int slot)
    {
        ref var entry = ref this[slot];
        entry.LastAccess = _clock.Milliseconds;
        if (_newest != slot)
        {
            Unlink(slot, ref entry);
            LinkAsNewest(slot, ref entry);
        }
    }

    /// <summary>Drops every entry and gives their blocks back to the GC.</summary>
    public void Clear()
    {
        Volatile.Write(ref _oldest, None);
        Volatile.Write(ref _blocks, []);
        _buckets = new int[MinBuckets];
        _bucketShift = 32 - BitOperations.Log2(MinBuckets);
        _slotsUsed = 0;
        _freeSlot = None;
        _count = 0;
        _newest = None;
        CountBytes(-Counters.Bytes);
    }

    private void CountBytes(long delta)
    {
        Counters.Bytes += delta;
        _memory.Add(delta);
    }

    private int TakeFreeSlot()
    {
        if (_freeSlot != None)
        {
            var free = _freeSlot;
            _freeSlot = this[free].NextInBucket - 1;
            return free;
        }
        if ((_slotsUsed >> BlockShift) == _blocks.Length)
        {
            var grown = new CacheEntry[Math.Max(4, _blocks.Length * 2)][];
            _blocks.CopyTo(grown, 0);
            for (var i = _blocks.Length; i < grown.Length; i++)
            {
                grown[i] = [];
            }
            Volatile.Write(ref _blocks, grown);
        }
        var blockIndex = _slotsUsed >> BlockShift;
        if (_blocks[blockIndex].Length == 0)
        {
            _blocks[blockIndex] = new CacheEntry[BlockLength];
        }
        return _slotsUsed++;
    }

    private void Rehash(int bucketCount)
    {
        _buckets = new int[bucketCount];
        _bucketShift = 32 - BitOperations.Log2((uint)bucketCount);
        for (var slot = _newest; slot != None;)
        {
            ref var entry = ref this[slot];
            ref var bucket = ref _buckets[BucketOf(ByteKeyComparer.Hash(entry.Key))];
            entry.NextInBucket = bucket;
            bucket = slot + 1;
            slot = entry.Older;
        }
    }

    // Fibonacci hashing: the product's top bits depend on every bit of the hash, whereas its low bits are the same for
    // every key of a shard (they chose the shard).
    private int BucketOf(int hash) => (int)(((uint)hash * 0x9E3779B9u) >> _bucketShift);

    private void LinkAsNewest(int slot, ref CacheEntry entry)
    {
        entry.Older = _newest;
        entry.Newer = None;
        if (_newest != None)
        {
            this[_newest].Newer = slot;
        }
        _newest = slot;
        if (_oldest == None)
        {
            Volatile.Write(ref _oldest, slot);
        }
    }

    private void Unlink(int slot, ref CacheEntry entry)
    {
        if (entry.Newer != None)
        {
            this[entry.Newer].Older = entry.Older;
        }
        else
        {
            _newest = entry.Older;
        }

        if (entry.Older != None)
        {
            this[entry.Older].Newer = entry.Newer;
        }
        else
        {
            Volatile.Write(ref _oldest, entry.Newer);
        }
        entry.Newer = entry.Older = None;
    }
}

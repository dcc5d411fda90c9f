using System.Diagnostics.CodeAnalysis;

namespace Nemcache.Storage.Cache;

/// <summary>
/// A slice of the cache: its entries, their LRU order and their counters, all guarded by <see cref="Gate"/>. Keys map
/// to a shard by hash, so operations on different shards never contend.
/// <para>
/// The one place bytes are accounted: every change to which entries the shard holds or to an entry's value goes
/// through <see cref="Add"/>, <see cref="ReplaceValue"/>, <see cref="Remove"/> or <see cref="Clear"/>, which move the
/// shard's <see cref="ShardCounters.Bytes"/> and the cache-wide <see cref="CacheMemory"/> together.
/// </para>
/// </summary>
internal sealed class CacheShard
{
    // A set of entries compared by key rather than a key-to-entry map: the entry holds its key anyway, and a set's slot
    // is 8 bytes smaller than a map's (docs/benchmarks.md, Memory).
    private readonly HashSet<CacheEntry> _entries = new(EntryKeyComparer.Instance);
    private readonly HashSet<CacheEntry>.AlternateLookup<ReadOnlySpan<byte>> _byKeySpan;
    private CacheEntry? _newest;
    private CacheEntry? _oldest;
    private readonly CacheMemory _memory;
    private readonly AccessClock _clock;

    public CacheShard(CacheMemory memory, AccessClock clock)
    {
        _memory = memory;
        _clock = clock;
        _byKeySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public readonly Lock Gate = new();
    public ShardCounters Counters;

    public int Count => _entries.Count;

    /// <summary>The most recently used entry; walk <see cref="CacheEntry.Older"/> from it for LRU order. Under the lock.</summary>
    public CacheEntry? Newest => _newest;

    /// <summary>The least recently used entry. Read without the lock only as a hint for choosing a shard to evict from.</summary>
    public CacheEntry? Oldest => Volatile.Read(ref _oldest);

    public bool TryGet(ReadOnlySpan<byte> key, [MaybeNullWhen(false)] out CacheEntry entry) =>
        _byKeySpan.TryGetValue(key, out entry);

    public void EnsureCapacity(int capacity) => _entries.EnsureCapacity(capacity);

    /// <summary>A new entry holding <paramref name="value"/>, the most recently used.</summary>
    public CacheEntry Add(byte[] key, byte[] value)
    {
        var entry = new CacheEntry(key) { Value = value, LastAccess = _clock.Milliseconds };
        _entries.Add(entry);
        LinkAsNewest(entry);
        CountBytes(entry.Footprint);
        return entry;
    }

    /// <summary>Gives an entry a new value (its bytes are counted anew); its place in the LRU does not change.</summary>
    public void ReplaceValue(CacheEntry entry, byte[] value)
    {
        var before = entry.Footprint;
        entry.Value = value;
        CountBytes(entry.Footprint - before);
    }

    public void Remove(CacheEntry entry)
    {
        _entries.Remove(entry);
        Unlink(entry);
        CountBytes(-entry.Footprint);
    }

    /// <summary>Moves an entry to the LRU head: it was just read or written.</summary>
    public void MarkUsed(CacheEntry entry)
    {
        entry.LastAccess = _clock.Milliseconds;
        if (!ReferenceEquals(_newest, entry))
        {
            Unlink(entry);
            LinkAsNewest(entry);
        }
    }

    public void Clear()
    {
        _entries.Clear();
        _newest = null;
        Volatile.Write(ref _oldest, null);
        CountBytes(-Counters.Bytes);
    }

    /// <summary>For whole-cache walks (snapshot, expiry reclaim); changes go through the shard, which keeps the LRU and counters.</summary>
    public IReadOnlyCollection<CacheEntry> Entries => _entries;

    private void CountBytes(long delta)
    {
        Counters.Bytes += delta;
        _memory.Add(delta);
    }

    private void LinkAsNewest(CacheEntry entry)
    {
        entry.Older = _newest;
        entry.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = entry;
        }
        _newest = entry;
        if (_oldest is null)
        {
            Volatile.Write(ref _oldest, entry);
        }
    }

    private void Unlink(CacheEntry entry)
    {
        if (entry.Newer is not null)
        {
            entry.Newer.Older = entry.Older;
        }
        else
        {
            _newest = entry.Older;
        }

        if (entry.Older is not null)
        {
            entry.Older.Newer = entry.Newer;
        }
        else
        {
            Volatile.Write(ref _oldest, entry.Newer);
        }
        entry.Newer = entry.Older = null;
    }

    /// <summary>Entries are equal when their keys are; a lookup by key span never allocates.</summary>
    private sealed class EntryKeyComparer : IEqualityComparer<CacheEntry>, IAlternateEqualityComparer<ReadOnlySpan<byte>, CacheEntry>
    {
        public static readonly EntryKeyComparer Instance = new();

        public bool Equals(CacheEntry? x, CacheEntry? y) => ByteKeyComparer.Instance.Equals(x?.Key, y?.Key);

        public int GetHashCode(CacheEntry entry) => ByteKeyComparer.Hash(entry.Key);

        public bool Equals(ReadOnlySpan<byte> alternate, CacheEntry other) => alternate.SequenceEqual(other.Key);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => ByteKeyComparer.Hash(alternate);

        public CacheEntry Create(ReadOnlySpan<byte> alternate) => new(alternate.ToArray());
    }
}

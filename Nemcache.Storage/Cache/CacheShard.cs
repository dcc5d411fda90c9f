using System.Diagnostics.CodeAnalysis;

namespace Nemcache.Storage.Cache;

/// <summary>
/// A slice of the cache: its entries, their LRU order and their counters, all guarded by <see cref="Gate"/>. Keys map
/// to a shard by hash, so operations on different shards never contend.
/// </summary>
internal sealed class CacheShard
{
    // A set of entries compared by key rather than a key-to-entry map: the entry holds its key anyway, and a set's slot
    // is 8 bytes smaller than a map's (docs/benchmarks.md, Memory).
    private readonly HashSet<CacheEntry> _entries = new(EntryKeyComparer.Instance);
    private readonly HashSet<CacheEntry>.AlternateLookup<ReadOnlySpan<byte>> _byKeySpan;
    private CacheEntry? _newest;
    private CacheEntry? _oldest;

    public CacheShard() => _byKeySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();

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

    public CacheEntry Add(byte[] key)
    {
        var entry = new CacheEntry(key) { LastAccess = Environment.TickCount64 };
        _entries.Add(entry);
        LinkAsNewest(entry);
        return entry;
    }

    public void Remove(CacheEntry entry)
    {
        _entries.Remove(entry);
        Unlink(entry);
        Counters.Bytes -= entry.Footprint;
    }

    /// <summary>Moves an entry to the LRU head: it was just read or written.</summary>
    public void MarkUsed(CacheEntry entry)
    {
        entry.LastAccess = Environment.TickCount64;
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
        Counters.Bytes = 0;
    }

    /// <summary>For whole-cache walks (snapshot, expiry reclaim); changes go through the shard, which keeps the LRU and counters.</summary>
    public IReadOnlyCollection<CacheEntry> Entries => _entries;

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

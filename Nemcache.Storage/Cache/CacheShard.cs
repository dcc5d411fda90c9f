using System.Diagnostics.CodeAnalysis;

namespace Nemcache.Storage.Cache;

/// <summary>
/// A slice of the cache: its entries, their LRU order and their counters, all guarded by <see cref="Gate"/>. Keys map
/// to a shard by hash, so operations on different shards never contend.
/// </summary>
internal sealed class CacheShard
{
    private readonly Dictionary<byte[], CacheEntry> _entries = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], CacheEntry>.AlternateLookup<ReadOnlySpan<byte>> _byKeySpan;
    private CacheEntry? _newest;
    private CacheEntry? _oldest;

    public CacheShard() => _byKeySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();

    public readonly Lock Gate = new();
    public ShardCounters Counters;

    public int Count => _entries.Count;

    /// <summary>The least recently used entry. Read without the lock only as a hint for choosing a shard to evict from.</summary>
    public CacheEntry? Oldest => Volatile.Read(ref _oldest);

    public bool TryGet(ReadOnlySpan<byte> key, [MaybeNullWhen(false)] out CacheEntry entry) =>
        _byKeySpan.TryGetValue(key, out entry);

    public void EnsureCapacity(int capacity) => _entries.EnsureCapacity(capacity);

    public CacheEntry Add(byte[] key)
    {
        var entry = new CacheEntry(key) { LastAccess = Environment.TickCount64 };
        _entries.Add(key, entry);
        LinkAsNewest(entry);
        return entry;
    }

    public void Remove(CacheEntry entry)
    {
        _entries.Remove(entry.Key);
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

    public Dictionary<byte[], CacheEntry>.ValueCollection Entries => _entries.Values;

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
}

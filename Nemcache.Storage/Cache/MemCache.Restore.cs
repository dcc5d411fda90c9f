using System.Runtime.CompilerServices;

namespace Nemcache.Storage.Cache;

/// <summary>
/// What persistence plugins see of the cache (<see cref="IRestorableCache"/>, documented there): the restore path,
/// which stores without notifications, and the snapshots a compaction, an adopt or a repair writes from.
/// </summary>
public sealed partial class MemCache
{
    /// <inheritdoc/>
    public void UseCasSequence(CasSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if ((_cas.Last & CasSequence.CounterMask) != 0)
        {
            throw new InvalidOperationException("The cache has handed out CAS uniques already; set the sequence first.");
        }
        _cas = sequence;
    }

    /// <inheritdoc/>
    [MethodImpl(RestoreHotPath.Compile)]
    public bool RestoreItem(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas = 0)
    {
        ValidateKey(key);
        if (value.Length > Options.MaxItemSize || ExpiryClock.HasExpired(expiresAt, NowAfterDueFlush()))
        {
            return false;
        }
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = shard.Find(key, hash);
            // The restore path hands over key arrays nobody changes; adopt them rather than copy a million keys.
            if (cas != 0)
            {
                _cas.Observe(cas);
            }
            PutLocked(shard, slot, key, hash, value, flags, expiresAt, notify: false, ownedKey: key, cas: cas);
        }
        EvictWhileOverLimit();
        return true;
    }

    /// <inheritdoc/>
    [MethodImpl(RestoreHotPath.Compile)]
    public bool RestoreRemove(ReadOnlySpan<byte> key, out CacheItem removed)
    {
        ValidateKey(key);
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = shard.Find(key, hash);
            if (slot == CacheShard.None)
            {
                removed = default;
                return false;
            }
            removed = shard[slot].ToItem();
            shard.Remove(slot);
            return true;
        }
    }

    /// <inheritdoc/>
    [MethodImpl(RestoreHotPath.Compile)]
    public bool RestoreTouch(ReadOnlySpan<byte> key, long expiresAt)
    {
        ValidateKey(key);
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = shard.Find(key, hash);
            if (slot == CacheShard.None)
            {
                return false;
            }
            shard[slot].ExpiresAt = expiresAt;
            shard.MarkUsed(slot);
            return true;
        }
    }

    /// <inheritdoc/>
    public void EnsureCapacity(long expectedItems)
    {
        var perShard = (int)Math.Min(int.MaxValue, expectedItems / ShardCount + 1);
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.EnsureCapacity(perShard);
            }
        }
    }

    /// <inheritdoc/>
    public void RestoreFlushDeadline(long flushAt)
    {
        var now = NowAfterDueFlush();
        if (flushAt <= now)
        {
            FlushNow(now, notify: false);
        }
        else
        {
            Volatile.Write(ref _flushAt, flushAt);
        }
    }

    /// <inheritdoc/>
    public long? PendingFlushAt
    {
        get
        {
            var at = Volatile.Read(ref _flushAt);
            return at == NoPendingFlush ? null : at;
        }
    }

    /// <inheritdoc/>
    public IEnumerable<CacheItem> SnapshotItems()
    {
        var buffer = new List<CacheItem>();
        foreach (var shard in _shards)
        {
            buffer.Clear();
            var now = NowAfterDueFlush();
            lock (shard.Gate)
            {
                for (var slot = shard.Newest; slot != CacheShard.None; slot = shard[slot].Older)
                {
                    ref var entry = ref shard[slot];
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        buffer.Add(entry.ToItem());
                    }
                }
            }
            foreach (var item in buffer)
            {
                yield return item;
            }
        }
    }

    /// <inheritdoc/>
    public void VisitItemsInOrder(Action<CacheItem> visit)
    {
        foreach (var shard in _shards)
        {
            var now = NowAfterDueFlush();
            lock (shard.Gate)
            {
                for (var slot = shard.Newest; slot != CacheShard.None; slot = shard[slot].Older)
                {
                    ref var entry = ref shard[slot];
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        visit(entry.ToItem());
                    }
                }
            }
        }
    }

    /// <inheritdoc/>
    public long CountItems()
    {
        long items = 0;
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                items += shard.Count;
            }
        }
        return items;
    }

    /// <inheritdoc/>
    public long UsedBytes => _memory.UsedBytes;
}

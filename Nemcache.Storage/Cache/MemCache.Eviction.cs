using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Cache;

/// <summary>
/// What the cache drops on its own: the least recently used items while it is over its memory limit, and expired
/// items, found on the way (<see cref="FindLive"/>) or by the periodic reclaim.
/// </summary>
public sealed partial class MemCache
{
    /// <summary>
    /// Evicts least recently used items until the cache fits its limit. It picks the shard whose oldest entry is the
    /// oldest overall (read without locks: a hint, re-checked under the lock), so eviction approximates one global LRU.
    /// </summary>
    private void EvictWhileOverLimit()
    {
        while (_memory.IsOverLimit)
        {
            CacheShard? victimShard = null;
            var oldestAccess = long.MaxValue;
            foreach (var shard in _shards)
            {
                var access = shard.OldestAccessHint;
                if (access < oldestAccess)
                {
                    oldestAccess = access;
                    victimShard = shard;
                }
            }
            if (victimShard is null)
            {
                return;
            }

            var now = NowAfterDueFlush();
            lock (victimShard.Gate)
            {
                var slot = victimShard.Oldest;
                if (slot == CacheShard.None)
                {
                    continue;
                }
                ref var victim = ref victimShard[slot];
                var reason = ExpiryClock.HasExpired(victim.ExpiresAt, now) ? EvictionReason.Expiry : EvictionReason.Capacity;
                if (reason == EvictionReason.Capacity) CountEvicted(victimShard, in victim); else CountReclaimed(victimShard, in victim);
                var victimKey = victim.Key;
                victimShard.Remove(slot);
                _publisher.Publish(CacheChange.Evicted(victimKey, reason));
            }
        }
    }

    /// <summary>
    /// Removes every expired item and publishes an expiry eviction for each, so that expired memory is reclaimed even
    /// when nobody asks for those keys again. Returns how many were removed.
    /// </summary>
    public int ReclaimExpired()
    {
        _counters.CountReclaimRun();
        var removed = 0;
        var expired = new List<int>();
        foreach (var shard in _shards)
        {
            var now = NowAfterDueFlush();
            lock (shard.Gate)
            {
                expired.Clear();
                shard.Counters.CrawlerItemsChecked += shard.Count;
                for (var slot = shard.Newest; slot != CacheShard.None; slot = shard[slot].Older)
                {
                    if (ExpiryClock.HasExpired(shard[slot].ExpiresAt, now))
                    {
                        expired.Add(slot);
                    }
                }
                foreach (var slot in expired)
                {
                    ref var entry = ref shard[slot];
                    CountReclaimed(shard, in entry);
                    shard.Counters.CrawlerReclaimed++;
                    var expiredKey = entry.Key;
                    shard.Remove(slot);
                    _publisher.Publish(CacheChange.Evicted(expiredKey, EvictionReason.Expiry));
                }
                removed += expired.Count;
            }
        }
        return removed;
    }

    private static void CountReclaimed(CacheShard shard, in CacheEntry entry)
    {
        shard.Counters.Reclaimed++;
        if (!entry.Fetched) shard.Counters.ExpiredUnfetched++;
    }

    private void CountEvicted(CacheShard shard, in CacheEntry entry)
    {
        ref var counters = ref shard.Counters;
        counters.Evictions++;
        if (entry.ExpiresAt != 0) counters.EvictedNonzero++;
        if (!entry.Fetched) counters.EvictedUnfetched++;
        counters.LastEvictionTicks = _accessClock.Milliseconds;
        counters.LastEvictedIdleMilliseconds = counters.LastEvictionTicks - entry.LastAccess;
    }
}

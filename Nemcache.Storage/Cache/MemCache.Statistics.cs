namespace Nemcache.Storage.Cache;

/// <summary>
/// What the cache reports about itself: the `stats` figures, summed over the shards, and the key listings (memcached's
/// `stats cachedump` and `lru_crawler metadump`).
/// </summary>
public sealed partial class MemCache
{
    public CacheStatistics GetStatistics()
    {
        var total = new ShardCounters();
        long items = 0;
        var oldestAccess = long.MaxValue;
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                items += shard.Count;
                total.Add(shard.Counters);
                oldestAccess = Math.Min(oldestAccess, shard.Oldest == CacheShard.None ? long.MaxValue : shard[shard.Oldest].LastAccess);
            }
        }
        var nowTicks = _accessClock.Milliseconds;
        var figures = new CacheFigures
        {
            CurrentItems = items,
            FlushCommands = _counters.FlushCommands,
            ObserverFailures = _publisher.Failures,
            StoreTooLarge = _counters.StoreTooLarge,
            ReclaimRuns = _counters.ReclaimRuns,
            OldestItemIdleSeconds = oldestAccess == long.MaxValue ? 0 : (nowTicks - oldestAccess) / 1000,
            LastEvictedIdleSeconds = total.LastEvictedIdleMilliseconds / 1000,
        };
        return new CacheStatistics(total, figures, Options.MemoryLimitBytes);
    }

    /// <summary>`stats reset`: zeroes the command counters of every shard and the cache-wide ones.</summary>
    public void ResetStatistics()
    {
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.Counters.Reset();
            }
        }
        _counters.Reset();
    }

    /// <summary>
    /// Calls <paramref name="visit"/> with a summary of every live item, shard by shard. Each shard's summaries are
    /// copied under its lock and visited after it is released, so a slow visit (writing a key listing) holds no lock.
    /// </summary>
    public void VisitSummaries(Action<ItemSummary> visit)
    {
        var buffer = new List<ItemSummary>();
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
                        buffer.Add(Summarize(in entry, now));
                    }
                }
            }
            foreach (var summary in buffer)
            {
                visit(summary);
            }
        }
    }

    /// <summary>
    /// The <paramref name="limit"/> most recently used live items, most recent first, over all shards. Each shard's
    /// list is in use order, so a shard's walk stops at the first entry older than all of the newest kept so far:
    /// memory is bounded by <paramref name="limit"/>, not by the cache.
    /// </summary>
    public List<ItemSummary> MostRecentlyUsed(int limit)
    {
        if (limit <= 0)
        {
            return [];
        }
        var newest = new PriorityQueue<ItemSummary, long>(limit + 1);
        foreach (var shard in _shards)
        {
            var now = NowAfterDueFlush();
            lock (shard.Gate)
            {
                for (var slot = shard.Newest; slot != CacheShard.None; slot = shard[slot].Older)
                {
                    ref var entry = ref shard[slot];
                    if (newest.Count == limit && newest.TryPeek(out _, out var oldestKept) && entry.LastAccess <= oldestKept)
                    {
                        break;
                    }
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        newest.Enqueue(Summarize(in entry, now), entry.LastAccess);
                        if (newest.Count > limit)
                        {
                            newest.Dequeue();
                        }
                    }
                }
            }
        }
        var listed = new List<ItemSummary>(newest.Count);
        while (newest.TryDequeue(out var summary, out _))
        {
            listed.Add(summary);
        }
        listed.Reverse();
        return listed;
    }

    private ItemSummary Summarize(in CacheEntry entry, long now) => new(entry.Key, entry.Value.Length, entry.ExpiresAt,
        now - (_accessClock.Milliseconds - entry.LastAccess) / 1000, entry.Cas, entry.Fetched, entry.Footprint);
}

namespace Nemcache.Storage.Cache;

/// <summary>The cache's reads: get, gat, and the meta get's and meta debug's options (<see cref="ReadOptions"/>).</summary>
public sealed partial class MemCache
{
    public bool TryGet(ReadOnlySpan<byte> key, out CacheItem item) =>
        TryGet(key, new ReadOptions(), out item, out _) == ReadResult.Hit;

    /// <summary>gat/gats: a hit also gets the new expiry.</summary>
    public ReadResult TryGetAndTouch(ReadOnlySpan<byte> key, long exptime, out CacheItem item) =>
        TryGet(key, new ReadOptions { TouchExptime = exptime }, out item, out _);

    /// <summary>
    /// A read with the meta get's options (and meta debug's look-only one). A miss with
    /// <see cref="ReadOptions.VivifyExptime"/> creates an empty item and counts as a hit that won the recache. A read
    /// that would touch or create is refused while changes are.
    /// </summary>
    public ReadResult TryGet(ReadOnlySpan<byte> key, in ReadOptions options, out CacheItem item, out ItemMetadata metadata)
    {
        ValidateKey(key);
        if ((options.TouchExptime is not null || options.VivifyExptime is not null) && !options.Inspect && ChangesRefused)
        {
            item = default;
            metadata = default;
            return ReadResult.Refused;
        }
        var now = NowAfterDueFlush();
        var shard = ShardFor(key, out var hash);
        var counts = !options.Inspect;
        lock (shard.Gate)
        {
            var slot = FindLive(shard, key, hash, now);
            if (slot == CacheShard.None)
            {
                if (counts) shard.Counters.GetMisses++;
                if (counts && options.TouchExptime is not null) shard.Counters.TouchMisses++;
                if (options.VivifyExptime is not { } vivifyExptime)
                {
                    item = default;
                    metadata = default;
                    return ReadResult.Miss;
                }
                ref var created = ref shard[PutLocked(shard, CacheShard.None, key, hash, [], 0, ExpiryClock.ToAbsolute(vivifyExptime, now))];
                created.WinTokenSent = true;
                item = created.ToItem();
                metadata = new ItemMetadata(FetchedBefore: false, IdleSeconds: 0, Stale: false, Won: true, WinTokenSentBefore: false);
            }
            else
            {
                CacheEntry removed;
                scoped ref var entry = ref shard[slot];
                var fetchedBefore = entry.Fetched;
                var idleSeconds = (_accessClock.Milliseconds - entry.LastAccess) / 1000;
                if (counts) shard.Counters.GetHits++;
                if (options.TouchExptime is { } exptime)
                {
                    if (counts) shard.Counters.TouchHits++;
                    // A touch with a past expiry removes the entry; the reply still shows the item as it was.
                    removed = entry;
                    if (!TouchLocked(shard, slot, exptime, now))
                    {
                        entry = ref removed;
                    }
                }
                else if (counts && !options.NoBump)
                {
                    shard.MarkUsed(slot);
                }
                if (counts && !options.NoBump)
                {
                    entry.Fetched = true;
                }

                var tokenSentBefore = entry.WinTokenSent;
                var expiresSoon = options.RecacheBelowSeconds is { } below && entry.ExpiresAt != 0 && entry.ExpiresAt - now < below;
                var won = counts && !tokenSentBefore && (entry.Stale || expiresSoon);
                entry.WinTokenSent |= won;
                item = entry.ToItem();
                metadata = new ItemMetadata(fetchedBefore, idleSeconds, entry.Stale, won, tokenSentBefore);
                return ReadResult.Hit;
            }
        }

        EvictWhileOverLimit();
        return ReadResult.Hit;
    }
}

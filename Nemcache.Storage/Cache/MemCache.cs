using System.Buffers.Text;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Cache;

/// <summary>
/// The cache: memcached's item semantics (flags, exptime, CAS, LRU eviction under a memory limit, delayed flush) over
/// a fixed set of shards, each with its own lock.
/// <para>
/// Every operation on a key runs under that key's shard lock, which makes each key linearizable, and publishes its
/// change to the observers before the lock is released, which gives persistence plugins each key's changes in order
/// (see <see cref="ICacheObserver"/>). A flush takes every shard lock, in index order.
/// </para>
/// </summary>
public sealed class MemCache
{
    private const int ShardCount = 64;
    private const long NoPendingFlush = long.MaxValue;

    private readonly CacheShard[] _shards = new CacheShard[ShardCount];
    private readonly ExpiryClock _clock;
    private readonly ILogger _logger;
    private ICacheObserver[] _observers = [];
    private long _usedBytes;
    private CasSequence _cas = CasSequence.InMemory();
    private long _flushAt = NoPendingFlush;
    private long _flushCommands;
    private long _observerFailures;
    private long _storeTooLarge;
    private long _reclaimRuns;
    private Func<bool> _changesRefused = static () => false;

    public MemCache(CacheOptions options, TimeProvider? time = null, ILogger<MemCache>? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxItemSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MemoryLimitBytes, options.MaxItemSize);
        Options = options;
        _clock = new ExpiryClock(time ?? TimeProvider.System);
        _logger = logger ?? NullLogger<MemCache>.Instance;
        for (var i = 0; i < ShardCount; i++)
        {
            _shards[i] = new CacheShard();
        }
    }

    public CacheOptions Options { get; }

    public ExpiryClock Clock => _clock;

    /// <summary>Adds an observer; it receives every change made from now on.</summary>
    public void Subscribe(ICacheObserver observer)
    {
        ICacheObserver[] current, next;
        do
        {
            current = _observers;
            next = [.. current, observer];
        }
        while (Interlocked.CompareExchange(ref _observers, next, current) != current);
    }

    /// <summary>
    /// Makes the cache refuse every change a client asks for while <paramref name="refused"/> returns true: each entry
    /// point that could change an item (store, delete, invalidate, touch, incr and decr, flush, and a read that touches
    /// or creates) answers Refused before it looks at the key, having changed nothing. This is the one place that
    /// decides whether a mutation may run; the host passes the persistence plugin's failure, because a change that no
    /// log holds would be lost at the next restart (docs/architecture.md). Restores, expiry reclaiming and capacity
    /// eviction are not a client's changes and go on.
    /// </summary>
    public void RefuseChangesWhile(Func<bool> refused) => _changesRefused = refused;

    private bool ChangesRefused => _changesRefused();

    public bool TryGet(ReadOnlySpan<byte> key, out CacheItem item) =>
        TryGet(key, new ReadOptions(), out item, out _) == ReadResult.Hit;

    /// <summary>gat/gats: a hit also gets the new expiry.</summary>
    public ReadResult TryGetAndTouch(ReadOnlySpan<byte> key, long exptime, out CacheItem item) =>
        TryGet(key, new ReadOptions { TouchExptime = exptime }, out item, out _);

    /// <summary>
    /// set, add, replace, append, prepend and cas. <paramref name="value"/> becomes the cache's own: the caller must not
    /// change it afterwards. <paramref name="exptime"/> is memcached's (relative, absolute or negative); append and
    /// prepend keep the item's flags and expiry.
    /// </summary>
    public StoreResult Store(StoreMode mode, ReadOnlySpan<byte> key, uint flags, long exptime, byte[] value, ulong casUnique = 0) =>
        Store(mode, key, value, new StoreOptions(flags, exptime) { CompareCas = casUnique }, out _);

    /// <summary>
    /// A store with the binary and meta protocols' options. <paramref name="stored"/> is the item as stored (its CAS is
    /// what those protocols answer with), or default when nothing was stored.
    /// </summary>
    public StoreResult Store(StoreMode mode, ReadOnlySpan<byte> key, byte[] value, in StoreOptions options, out CacheItem stored)
    {
        ValidateKey(key);
        stored = default;
        if (ChangesRefused)
        {
            return StoreResult.Refused;
        }
        if (!Options.ItemFits(key.Length, options.Flags, value.Length))
        {
            Interlocked.Increment(ref _storeTooLarge);
            return StoreResult.TooLarge;
        }

        var now = Now();
        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            var entry = FindLive(shard, key, now);
            shard.Counters.Sets++;
            var vivifies = entry is null && options.VivifyExptime is not null && mode is StoreMode.Append or StoreMode.Prepend;
            switch (mode)
            {
                case StoreMode.Add when entry is not null:
                    shard.MarkUsed(entry);
                    return StoreResult.NotStored;
                case StoreMode.Replace or StoreMode.Append or StoreMode.Prepend when entry is null && !vivifies:
                    return StoreResult.NotStored;
            }

            var stale = false;
            if (mode == StoreMode.Cas || options.CompareCas != 0)
            {
                if (entry is null)
                {
                    shard.Counters.CasMisses++;
                    return StoreResult.NotFound;
                }
                if (entry.Cas != options.CompareCas)
                {
                    // Meta set's invalidation: an older CAS may still store, but what it stores is marked stale.
                    // A CAS of 0 (meta set's C0) is no older one: it compares, and fails, as in memcached.
                    if (!options.Invalidate || options.CompareCas == 0 || options.CompareCas > entry.Cas)
                    {
                        shard.Counters.CasBadValue++;
                        return StoreResult.Exists;
                    }
                    stale = true;
                }
                shard.Counters.CasHits++;
            }

            var appends = !vivifies && mode is StoreMode.Append or StoreMode.Prepend;
            var newValue = !appends ? value : mode == StoreMode.Append ? Concat(entry!.Value, value) : Concat(value, entry!.Value);
            var newFlags = appends ? entry!.Flags : options.Flags;
            if (!Options.ItemFits(key.Length, newFlags, newValue.Length))
            {
                return StoreResult.TooLarge;
            }

            var expiresAt = appends ? entry!.ExpiresAt : ExpiryClock.ToAbsolute(vivifies ? options.VivifyExptime!.Value : options.Exptime, now);
            if (ExpiryClock.HasExpired(expiresAt, now))
            {
                // memcached stores an item nobody can ever see; dropping the old one instead is the same to every reader.
                if (entry is not null)
                {
                    RemoveLocked(shard, entry);
                    Publish(CacheChange.Deleted(entry.Key));
                }
                return StoreResult.Stored;
            }

            var put = PutLocked(shard, entry, key, newValue, newFlags, expiresAt);
            put.Stale = stale;
            stored = put.ToItem();
        }

        EvictWhileOverLimit();
        return StoreResult.Stored;
    }

    /// <summary>
    /// delete. With <paramref name="compareCas"/> (binary and meta protocols) the item is deleted only if its CAS is
    /// that one; meta delete's C0 compares with 0, and so never matches, as in memcached.
    /// </summary>
    public DeleteResult Delete(ReadOnlySpan<byte> key, ulong? compareCas = null) =>
        RemoveOrInvalidate(key, compareCas, invalidate: false, exptime: null);

    /// <summary>
    /// Meta delete's I: instead of removing the item, marks it stale and gives it a new CAS, so that readers are told to
    /// recache it while they may still use it; <paramref name="exptime"/>, when given, limits how long it stays. The
    /// stale mark and the CAS live only in memory (see docs/architecture.md): only a new expiry is published.
    /// </summary>
    public DeleteResult Invalidate(ReadOnlySpan<byte> key, ulong? compareCas, long? exptime) =>
        RemoveOrInvalidate(key, compareCas, invalidate: true, exptime);

    /// <summary>touch: gives a live item a new expiry.</summary>
    public TouchResult Touch(ReadOnlySpan<byte> key, long exptime)
    {
        ValidateKey(key);
        if (ChangesRefused)
        {
            return TouchResult.Refused;
        }
        var now = Now();
        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            var entry = FindLive(shard, key, now);
            if (entry is null)
            {
                shard.Counters.TouchMisses++;
                return TouchResult.NotFound;
            }
            shard.Counters.TouchHits++;
            TouchLocked(shard, entry, exptime, now);
            return TouchResult.Touched;
        }
    }

    /// <summary>
    /// incr and decr. The value must be a decimal number below 2^64; incr wraps at 2^64 and decr stops at 0, as in
    /// memcached. A result shorter than the old value is padded with spaces to the old length, as memcached's in-place
    /// update does. When the key is missing and <paramref name="createWith"/> is given (binary and meta protocols),
    /// the item is created holding that number and <paramref name="exptime"/>.
    /// </summary>
    public ArithmeticResult Increment(ReadOnlySpan<byte> key, ulong delta, bool decrement, out CacheItem item,
        ulong? createWith = null, long exptime = 0) =>
        Increment(key, new ArithmeticOptions(delta, decrement) { CreateWith = createWith, CreateExptime = exptime }, out item);

    /// <summary>incr and decr with the binary and meta protocols' options: a CAS to match, and a new expiry.</summary>
    public ArithmeticResult Increment(ReadOnlySpan<byte> key, in ArithmeticOptions options, out CacheItem item)
    {
        ValidateKey(key);
        item = default;
        if (ChangesRefused)
        {
            return ArithmeticResult.Refused;
        }
        var now = Now();
        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            var entry = FindLive(shard, key, now);
            if (entry is null)
            {
                if (options.Decrement) shard.Counters.DecrMisses++; else shard.Counters.IncrMisses++;
                if (options.CreateWith is not { } initial)
                {
                    return ArithmeticResult.NotFound;
                }
                var created = PutLocked(shard, null, key, FormatNumber(initial, minLength: 0), 0,
                    ExpiryClock.ToAbsolute(options.CreateExptime, now));
                item = created.ToItem();
            }
            else
            {
                if (options.CompareCas != 0 && entry.Cas != options.CompareCas)
                {
                    return ArithmeticResult.Exists;
                }
                if (!TryParseNumber(entry.Value, out var current))
                {
                    return ArithmeticResult.NonNumeric;
                }
                if (options.Decrement) shard.Counters.DecrHits++; else shard.Counters.IncrHits++;
                var delta = options.Delta;
                var next = options.Decrement ? (delta > current ? 0 : current - delta) : unchecked(current + delta);
                var expiresAt = options.UpdateExptime is { } exptime ? ExpiryClock.ToAbsolute(exptime, now) : entry.ExpiresAt;
                var updated = PutLocked(shard, entry, key, FormatNumber(next, entry.Value.Length), entry.Flags, expiresAt);
                item = updated.ToItem();
            }
        }

        EvictWhileOverLimit();
        return ArithmeticResult.Updated;
    }

    /// <summary>
    /// flush_all. A delay of 0 (or one that lands in the past) empties the cache now and cancels a pending flush; a
    /// later one replaces any pending flush and empties the cache when it comes, as memcached does. Returns false,
    /// having changed nothing, while changes are refused.
    /// </summary>
    public bool FlushAll(long delay = 0)
    {
        if (ChangesRefused)
        {
            return false;
        }
        Interlocked.Increment(ref _flushCommands);
        var now = Now();
        var at = delay <= 0 ? now : ExpiryClock.ToAbsolute(delay, now);
        if (at <= now)
        {
            FlushNow(now, notify: true);
            return true;
        }

        EnterAll();
        try
        {
            Volatile.Write(ref _flushAt, at);
            Publish(CacheChange.Flushed(at));
        }
        finally
        {
            ExitAll();
        }
        return true;
    }

    /// <summary>
    /// Where CAS uniques come from from now on. The host sets the persistent sequence (<see cref="CasSequence"/>)
    /// before a plugin restores anything, so that no unique of this run repeats one of an earlier run.
    /// </summary>
    public void UseCasSequence(CasSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if ((_cas.Last & CasSequence.CounterMask) != 0)
        {
            throw new InvalidOperationException("The cache has handed out CAS uniques already; set the sequence first.");
        }
        _cas = sequence;
    }

    /// <summary>
    /// Restore path for persistence plugins: stores an item read from disk, with no notification. A non-zero
    /// <paramref name="cas"/> is the CAS the item had when it was stored, and it keeps it, so that a client's token
    /// for an unchanged item still matches after a restart; 0 (a record that did not keep its CAS) gives a fresh one.
    /// An item whose absolute expiry has passed is skipped. Returns whether it was stored.
    /// </summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public bool RestoreItem(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas = 0)
    {
        ValidateKey(key);
        if (value.Length > Options.MaxItemSize || ExpiryClock.HasExpired(expiresAt, Now()))
        {
            return false;
        }
        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            shard.TryGet(key, out var entry);
            // The restore path hands over key arrays nobody changes; adopt them rather than copy a million keys.
            if (cas != 0)
            {
                _cas.Observe(cas);
            }
            PutLocked(shard, entry, key, value, flags, expiresAt, notify: false, ownedKey: key, cas: cas);
        }
        EvictWhileOverLimit();
        return true;
    }

    /// <summary>
    /// Restore path: sizes the shards for about <paramref name="expectedItems"/> items before a restore loads them, so
    /// that their tables do not rehash again and again as they grow.
    /// </summary>
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

    /// <summary>
    /// Restore path: re-arms a delayed flush_all found on disk. A deadline that has already passed empties the cache
    /// without notification; the plugin has dropped the records it kills itself.
    /// </summary>
    public void RestoreFlushDeadline(long flushAt)
    {
        var now = Now();
        if (flushAt <= now)
        {
            FlushNow(now, notify: false);
        }
        else
        {
            Volatile.Write(ref _flushAt, flushAt);
        }
    }

    /// <summary>The absolute time of a pending delayed flush, or null. Compaction writes it with the snapshot.</summary>
    public long? PendingFlushAt
    {
        get
        {
            var at = Volatile.Read(ref _flushAt);
            return at == NoPendingFlush ? null : at;
        }
    }

    /// <summary>
    /// Every live item, shard by shard. Each shard is copied under its lock, so the snapshot of a shard is consistent,
    /// but changes to other shards may be seen or not; compaction relies only on per-key consistency.
    /// </summary>
    public IEnumerable<CacheItem> SnapshotItems()
    {
        var buffer = new List<CacheItem>();
        foreach (var shard in _shards)
        {
            buffer.Clear();
            var now = Now();
            lock (shard.Gate)
            {
                foreach (var entry in shard.Entries)
                {
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

    /// <summary>
    /// Calls <paramref name="visit"/> for every live item while holding that item's shard lock, so that what the visit
    /// writes elsewhere is ordered with the item's own changes, as a notification would be. For a persistence plugin
    /// rewriting its files from the cache; the visit must be short and must not call back into the cache.
    /// </summary>
    public void VisitItemsInOrder(Action<CacheItem> visit)
    {
        foreach (var shard in _shards)
        {
            var now = Now();
            lock (shard.Gate)
            {
                foreach (var entry in shard.Entries)
                {
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        visit(entry.ToItem());
                    }
                }
            }
        }
    }

    /// <summary>
    /// A store refused before its value was read because the item would not fit the item size limit: counted, and a set
    /// also drops the key's old value, as memcached does, so that it is not served stale. Deleted when an item was
    /// dropped (a change persistence must record); Refused when changes are refused, so nothing was dropped.
    /// </summary>
    public DeleteResult RefuseTooLarge(StoreMode mode, ReadOnlySpan<byte> key)
    {
        Interlocked.Increment(ref _storeTooLarge);
        return mode == StoreMode.Set ? Delete(key) : DeleteResult.NotFound;
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
            var now = Now();
            lock (shard.Gate)
            {
                for (var entry = shard.Newest; entry is not null; entry = entry.Older)
                {
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        buffer.Add(Summarize(entry, now));
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
            var now = Now();
            lock (shard.Gate)
            {
                for (var entry = shard.Newest; entry is not null; entry = entry.Older)
                {
                    if (newest.Count == limit && newest.TryPeek(out _, out var oldestKept) && entry.LastAccess <= oldestKept)
                    {
                        break;
                    }
                    if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        newest.Enqueue(Summarize(entry, now), entry.LastAccess);
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

    private static ItemSummary Summarize(CacheEntry entry, long now) => new(entry.Key, entry.Value.Length, entry.ExpiresAt,
        now - (Environment.TickCount64 - entry.LastAccess) / 1000, entry.Cas, entry.Fetched, entry.Footprint);

    /// <summary>
    /// Removes every expired item and publishes an expiry eviction for each, so that expired memory is reclaimed even
    /// when nobody asks for those keys again. Returns how many were removed.
    /// </summary>
    public int ReclaimExpired()
    {
        Interlocked.Increment(ref _reclaimRuns);
        var removed = 0;
        var expired = new List<CacheEntry>();
        foreach (var shard in _shards)
        {
            var now = Now();
            lock (shard.Gate)
            {
                expired.Clear();
                shard.Counters.CrawlerItemsChecked += shard.Count;
                foreach (var entry in shard.Entries)
                {
                    if (ExpiryClock.HasExpired(entry.ExpiresAt, now))
                    {
                        expired.Add(entry);
                    }
                }
                foreach (var entry in expired)
                {
                    RemoveLocked(shard, entry);
                    CountReclaimed(shard, entry);
                    shard.Counters.CrawlerReclaimed++;
                    Publish(CacheChange.Evicted(entry.Key, EvictionReason.Expiry));
                }
                removed += expired.Count;
            }
        }
        return removed;
    }

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
                oldestAccess = Math.Min(oldestAccess, shard.Oldest?.LastAccess ?? long.MaxValue);
            }
        }
        var nowTicks = Environment.TickCount64;
        var figures = new CacheFigures
        {
            CurrentItems = items,
            FlushCommands = Volatile.Read(ref _flushCommands),
            ObserverFailures = Volatile.Read(ref _observerFailures),
            StoreTooLarge = Volatile.Read(ref _storeTooLarge),
            ReclaimRuns = Volatile.Read(ref _reclaimRuns),
            OldestItemIdleSeconds = oldestAccess == long.MaxValue ? 0 : (nowTicks - oldestAccess) / 1000,
            LastEvictedIdleSeconds = total.LastEvictedIdleMilliseconds / 1000,
        };
        return new CacheStatistics(total, figures, Options.MemoryLimitBytes);
    }

    /// <summary>`stats reset`: zeroes the command counters of every shard.</summary>
    public void ResetStatistics()
    {
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.Counters.Reset();
            }
        }
        Interlocked.Exchange(ref _flushCommands, 0);
        Interlocked.Exchange(ref _storeTooLarge, 0);
        Interlocked.Exchange(ref _reclaimRuns, 0);
    }

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
        var now = Now();
        var shard = ShardFor(key);
        var counts = !options.Inspect;
        lock (shard.Gate)
        {
            var entry = FindLive(shard, key, now);
            if (entry is null)
            {
                if (counts) shard.Counters.GetMisses++;
                if (counts && options.TouchExptime is not null) shard.Counters.TouchMisses++;
                if (options.VivifyExptime is not { } vivifyExptime)
                {
                    item = default;
                    metadata = default;
                    return ReadResult.Miss;
                }
                entry = PutLocked(shard, null, key, [], 0, ExpiryClock.ToAbsolute(vivifyExptime, now));
                entry.WinTokenSent = true;
                item = entry.ToItem();
                metadata = new ItemMetadata(FetchedBefore: false, IdleSeconds: 0, Stale: false, Won: true, WinTokenSentBefore: false);
            }
            else
            {
                var fetchedBefore = entry.Fetched;
                var idleSeconds = (Environment.TickCount64 - entry.LastAccess) / 1000;
                if (counts) shard.Counters.GetHits++;
                if (options.TouchExptime is { } exptime)
                {
                    if (counts) shard.Counters.TouchHits++;
                    TouchLocked(shard, entry, exptime, now);
                }
                else if (counts && !options.NoBump)
                {
                    shard.MarkUsed(entry);
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

    private DeleteResult RemoveOrInvalidate(ReadOnlySpan<byte> key, ulong? compareCas, bool invalidate, long? exptime)
    {
        ValidateKey(key);
        if (ChangesRefused)
        {
            return DeleteResult.Refused;
        }
        var now = Now();
        var shard = ShardFor(key);
        lock (shard.Gate)
        {
            var entry = FindLive(shard, key, now);
            if (entry is null)
            {
                shard.Counters.DeleteMisses++;
                return DeleteResult.NotFound;
            }
            if (compareCas is { } cas && entry.Cas != cas)
            {
                return DeleteResult.Exists;
            }
            shard.Counters.DeleteHits++;
            if (!invalidate)
            {
                RemoveLocked(shard, entry);
                Publish(CacheChange.Deleted(entry.Key));
                return DeleteResult.Deleted;
            }
            entry.Stale = true;
            entry.WinTokenSent = false;
            entry.Cas = NextCas();
            if (exptime is { } newExptime)
            {
                TouchLocked(shard, entry, newExptime, now);
            }
            return DeleteResult.Deleted;
        }
    }

    /// <summary>The live entry for a key, or null; an expired one found on the way is reclaimed.</summary>
    private CacheEntry? FindLive(CacheShard shard, ReadOnlySpan<byte> key, long now)
    {
        if (!shard.TryGet(key, out var entry))
        {
            return null;
        }
        if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
        {
            return entry;
        }
        shard.Counters.GetExpired++;
        CountReclaimed(shard, entry);
        RemoveLocked(shard, entry);
        Publish(CacheChange.Evicted(entry.Key, EvictionReason.Expiry));
        return null;
    }

    /// <param name="cas">The restore path's CAS for the item; 0 takes the next unique.</param>
    private CacheEntry PutLocked(CacheShard shard, CacheEntry? entry, ReadOnlySpan<byte> key, byte[] value, uint flags,
        long expiresAt, bool notify = true, byte[]? ownedKey = null, ulong cas = 0)
    {
        long before = 0;
        if (entry is null)
        {
            entry = shard.Add(ownedKey ?? key.ToArray());
        }
        else
        {
            before = entry.Footprint;
            shard.MarkUsed(entry);
        }
        entry.Value = value;
        entry.Flags = flags;
        entry.ExpiresAt = expiresAt;
        entry.Cas = cas != 0 ? cas : NextCas();
        entry.Stale = false;
        entry.WinTokenSent = false;
        entry.Fetched = false;
        var delta = entry.Footprint - before;
        shard.Counters.Bytes += delta;
        shard.Counters.TotalItems++;
        Interlocked.Add(ref _usedBytes, delta);
        if (notify)
        {
            Publish(CacheChange.Stored(entry.Key, entry.Value, entry.Flags, entry.ExpiresAt, entry.Cas));
        }
        return entry;
    }

    private void TouchLocked(CacheShard shard, CacheEntry entry, long exptime, long now)
    {
        var expiresAt = ExpiryClock.ToAbsolute(exptime, now);
        if (ExpiryClock.HasExpired(expiresAt, now))
        {
            RemoveLocked(shard, entry);
            Publish(CacheChange.Deleted(entry.Key));
            return;
        }
        entry.ExpiresAt = expiresAt;
        shard.MarkUsed(entry);
        Publish(CacheChange.Touched(entry.Key, expiresAt));
    }

    private void RemoveLocked(CacheShard shard, CacheEntry entry)
    {
        shard.Remove(entry);
        Interlocked.Add(ref _usedBytes, -entry.Footprint);
    }

    /// <summary>
    /// Evicts least recently used items until the cache fits its limit. It picks the shard whose oldest entry is the
    /// oldest overall (read without locks: a hint, re-checked under the lock), so eviction approximates one global LRU.
    /// </summary>
    private void EvictWhileOverLimit()
    {
        while (Volatile.Read(ref _usedBytes) > Options.MemoryLimitBytes)
        {
            CacheShard? victimShard = null;
            var oldestAccess = long.MaxValue;
            foreach (var shard in _shards)
            {
                var oldest = shard.Oldest;
                if (oldest is not null && oldest.LastAccess < oldestAccess)
                {
                    oldestAccess = oldest.LastAccess;
                    victimShard = shard;
                }
            }
            if (victimShard is null)
            {
                return;
            }

            var now = Now();
            lock (victimShard.Gate)
            {
                var victim = victimShard.Oldest;
                if (victim is null)
                {
                    continue;
                }
                var reason = ExpiryClock.HasExpired(victim.ExpiresAt, now) ? EvictionReason.Expiry : EvictionReason.Capacity;
                RemoveLocked(victimShard, victim);
                if (reason == EvictionReason.Capacity) CountEvicted(victimShard, victim); else CountReclaimed(victimShard, victim);
                Publish(CacheChange.Evicted(victim.Key, reason));
            }
        }
    }

    private static void CountReclaimed(CacheShard shard, CacheEntry entry)
    {
        shard.Counters.Reclaimed++;
        if (!entry.Fetched) shard.Counters.ExpiredUnfetched++;
    }

    private static void CountEvicted(CacheShard shard, CacheEntry entry)
    {
        ref var counters = ref shard.Counters;
        counters.Evictions++;
        if (entry.ExpiresAt != 0) counters.EvictedNonzero++;
        if (!entry.Fetched) counters.EvictedUnfetched++;
        counters.LastEvictionTicks = Environment.TickCount64;
        counters.LastEvictedIdleMilliseconds = counters.LastEvictionTicks - entry.LastAccess;
    }

    private void FlushNow(long now, bool notify)
    {
        EnterAll();
        try
        {
            foreach (var shard in _shards)
            {
                Interlocked.Add(ref _usedBytes, -shard.Counters.Bytes);
                shard.Clear();
            }
            Volatile.Write(ref _flushAt, NoPendingFlush);
            if (notify)
            {
                Publish(CacheChange.Flushed(now));
            }
        }
        finally
        {
            ExitAll();
        }
    }

    /// <summary>The current unix time, after carrying out a delayed flush whose time has come.</summary>
    private long Now()
    {
        var now = _clock.Now;
        if (now >= Volatile.Read(ref _flushAt))
        {
            RunDueFlush(now);
        }
        return now;
    }

    private void RunDueFlush(long now)
    {
        EnterAll();
        try
        {
            // Another thread may have run it while this one waited for the locks.
            if (now < Volatile.Read(ref _flushAt))
            {
                return;
            }
            foreach (var shard in _shards)
            {
                shard.Counters.GetFlushed += shard.Count;
                Interlocked.Add(ref _usedBytes, -shard.Counters.Bytes);
                shard.Clear();
            }
            Volatile.Write(ref _flushAt, NoPendingFlush);
            Publish(CacheChange.Flushed(now));
        }
        finally
        {
            ExitAll();
        }
    }

    private void EnterAll()
    {
        foreach (var shard in _shards)
        {
            shard.Gate.Enter();
        }
    }

    private void ExitAll()
    {
        for (var i = _shards.Length - 1; i >= 0; i--)
        {
            _shards[i].Gate.Exit();
        }
    }

    private void Publish(in CacheChange change)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnChange(in change);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _observerFailures);
                _logger.LogError(ex, "Cache observer {Observer} failed on {Change}", observer.GetType().Name, change);
            }
        }
    }

    private ulong NextCas() => _cas.Next();

    private CacheShard ShardFor(ReadOnlySpan<byte> key) =>
        _shards[(uint)ByteKeyComparer.Hash(key) % ShardCount];

    private static void ValidateKey(ReadOnlySpan<byte> key)
    {
        if (key.Length is 0 or > CacheLimits.MaxKeyLength)
        {
            throw new ArgumentException($"A key is 1 to {CacheLimits.MaxKeyLength} bytes; this one is {key.Length}.", nameof(key));
        }
    }

    private static byte[] Concat(byte[] first, byte[] second)
    {
        var joined = ValueArrays.Allocate(first.Length + second.Length);
        first.CopyTo(joined, 0);
        second.CopyTo(joined, first.Length);
        return joined;
    }

    /// <summary>memcached's strtoull rule for incr/decr: digits, optionally followed by the spaces an in-place decr left.</summary>
    private static bool TryParseNumber(ReadOnlySpan<byte> value, out ulong number)
    {
        var digits = value.TrimEnd((byte)' ');
        number = 0;
        return digits.Length > 0 && Utf8Parser.TryParse(digits, out number, out var consumed) && consumed == digits.Length;
    }

    private static byte[] FormatNumber(ulong number, int minLength)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(number, digits, out var written);
        var value = new byte[Math.Max(written, minLength)];
        digits[..written].CopyTo(value);
        value.AsSpan(written).Fill((byte)' ');
        return value;
    }
}

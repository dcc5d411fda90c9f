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
/// <para>
/// One type in several files, one concern each: this one holds the writes' item semantics (store, delete, touch,
/// incr/decr) and what every operation shares; MemCache.Reads.cs the reads and the meta read options,
/// MemCache.Flush.cs flush_all and the delayed flush, MemCache.Eviction.cs the memory limit and expiry reclaiming,
/// MemCache.Restore.cs what persistence plugins see (<see cref="IRestorableCache"/>), MemCache.Statistics.cs `stats`
/// and the key listings. The state those concerns share has types of its own: <see cref="CacheShard"/> alone counts
/// bytes (<see cref="CacheMemory"/> sums them across shards), <see cref="AccessClock"/> is the LRU's time,
/// <see cref="ChangePublisher"/> the observers, <see cref="CacheWideCounters"/> the counters no shard owns, and
/// <see cref="ArithmeticValue"/> incr/decr's number rule.
/// </para>
/// </summary>
public sealed partial class MemCache : IRestorableCache
{
    private const int ShardCount = 64;

    private readonly CacheShard[] _shards = new CacheShard[ShardCount];
    private readonly ExpiryClock _clock;
    private readonly AccessClock _accessClock;
    private readonly CacheMemory _memory;
    private readonly ChangePublisher _publisher;
    private CasSequence _cas = CasSequence.InMemory();
    private readonly CacheWideCounters _counters = new();
    private Func<bool> _changesRefused = static () => false;

    /// <param name="time">The clock of expiry, of the delayed flush and of the LRU order (see <see cref="AccessClock"/>).</param>
    public MemCache(CacheOptions options, TimeProvider? time = null, ILogger<MemCache>? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxItemSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MemoryLimitBytes, options.MaxItemSize);
        Options = options;
        time ??= TimeProvider.System;
        _clock = new ExpiryClock(time);
        _accessClock = new AccessClock(time);
        _memory = new CacheMemory(options.MemoryLimitBytes);
        _publisher = new ChangePublisher(logger ?? (ILogger)NullLogger<MemCache>.Instance);
        for (var i = 0; i < ShardCount; i++)
        {
            _shards[i] = new CacheShard(_memory, _accessClock);
        }
    }

    public CacheOptions Options { get; }

    public ExpiryClock Clock => _clock;

    /// <summary>Adds an observer; it receives every change made from now on.</summary>
    public void Subscribe(ICacheObserver observer) => _publisher.Subscribe(observer);

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
            _counters.CountStoreTooLarge();
            return StoreResult.TooLarge;
        }

        var now = NowAfterDueFlush();
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = FindLive(shard, key, hash, now);
            var found = slot != CacheShard.None;
            // Read only where found: every path without an entry has returned or stores a new one by then.
            ref var entry = ref found ? ref shard[slot] : ref Unsafe.NullRef<CacheEntry>();
            shard.Counters.Sets++;
            var vivifies = !found && options.VivifyExptime is not null && mode is StoreMode.Append or StoreMode.Prepend;
            switch (mode)
            {
                case StoreMode.Add when found:
                    shard.MarkUsed(slot);
                    return StoreResult.NotStored;
                case StoreMode.Replace or StoreMode.Append or StoreMode.Prepend when !found && !vivifies:
                    return StoreResult.NotStored;
            }

            var stale = false;
            if (mode == StoreMode.Cas || options.CompareCas != 0)
            {
                if (!found)
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
            var newValue = !appends ? value : mode == StoreMode.Append ? Concat(entry.Value, value) : Concat(value, entry.Value);
            var newFlags = appends ? entry.Flags : options.Flags;
            if (!Options.ItemFits(key.Length, newFlags, newValue.Length))
            {
                return StoreResult.TooLarge;
            }

            var expiresAt = appends ? entry.ExpiresAt : ExpiryClock.ToAbsolute(vivifies ? options.VivifyExptime!.Value : options.Exptime, now);
            if (ExpiryClock.HasExpired(expiresAt, now))
            {
                // memcached stores an item nobody can ever see; dropping the old one instead is the same to every reader.
                if (found)
                {
                    var removedKey = entry.Key;
                    shard.Remove(slot);
                    _publisher.Publish(CacheChange.Deleted(removedKey));
                }
                return StoreResult.Stored;
            }

            ref var put = ref shard[PutLocked(shard, slot, key, hash, newValue, newFlags, expiresAt)];
            put.Stale = stale;
            stored = put.ToItem();
        }

        EvictWhileOverLimit();
        return StoreResult.Stored;
    }

    /// <summary>
    /// A store refused before its value was read because the item would not fit the item size limit: counted, and a set
    /// also drops the key's old value, as memcached does, so that it is not served stale. Deleted when an item was
    /// dropped (a change persistence must record); Refused when changes are refused, so nothing was dropped.
    /// </summary>
    public DeleteResult RefuseTooLarge(StoreMode mode, ReadOnlySpan<byte> key)
    {
        _counters.CountStoreTooLarge();
        return mode == StoreMode.Set ? Delete(key) : DeleteResult.NotFound;
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
        var now = NowAfterDueFlush();
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = FindLive(shard, key, hash, now);
            if (slot == CacheShard.None)
            {
                shard.Counters.TouchMisses++;
                return TouchResult.NotFound;
            }
            shard.Counters.TouchHits++;
            TouchLocked(shard, slot, exptime, now);
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
        var now = NowAfterDueFlush();
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = FindLive(shard, key, hash, now);
            if (slot == CacheShard.None)
            {
                if (options.Decrement) shard.Counters.DecrMisses++; else shard.Counters.IncrMisses++;
                if (options.CreateWith is not { } initial)
                {
                    return ArithmeticResult.NotFound;
                }
                var created = PutLocked(shard, CacheShard.None, key, hash, ArithmeticValue.Format(initial, minLength: 0), 0,
                    ExpiryClock.ToAbsolute(options.CreateExptime, now));
                item = shard[created].ToItem();
            }
            else
            {
                ref var entry = ref shard[slot];
                if (options.CompareCas != 0 && entry.Cas != options.CompareCas)
                {
                    return ArithmeticResult.Exists;
                }
                if (!ArithmeticValue.TryParse(entry.Value, out var current))
                {
                    return ArithmeticResult.NonNumeric;
                }
                if (options.Decrement) shard.Counters.DecrHits++; else shard.Counters.IncrHits++;
                var delta = options.Delta;
                var next = options.Decrement ? (delta > current ? 0 : current - delta) : unchecked(current + delta);
                var expiresAt = options.UpdateExptime is { } exptime ? ExpiryClock.ToAbsolute(exptime, now) : entry.ExpiresAt;
                var updated = PutLocked(shard, slot, key, hash, ArithmeticValue.Format(next, entry.Value.Length), entry.Flags, expiresAt);
                item = shard[updated].ToItem();
            }
        }

        EvictWhileOverLimit();
        return ArithmeticResult.Updated;
    }

    private DeleteResult RemoveOrInvalidate(ReadOnlySpan<byte> key, ulong? compareCas, bool invalidate, long? exptime)
    {
        ValidateKey(key);
        if (ChangesRefused)
        {
            return DeleteResult.Refused;
        }
        var now = NowAfterDueFlush();
        var shard = ShardFor(key, out var hash);
        lock (shard.Gate)
        {
            var slot = FindLive(shard, key, hash, now);
            if (slot == CacheShard.None)
            {
                shard.Counters.DeleteMisses++;
                return DeleteResult.NotFound;
            }
            ref var entry = ref shard[slot];
            if (compareCas is { } cas && entry.Cas != cas)
            {
                return DeleteResult.Exists;
            }
            shard.Counters.DeleteHits++;
            if (!invalidate)
            {
                var removedKey = entry.Key;
                shard.Remove(slot);
                _publisher.Publish(CacheChange.Deleted(removedKey));
                return DeleteResult.Deleted;
            }
            entry.Stale = true;
            entry.WinTokenSent = false;
            entry.Cas = NextCas();
            if (exptime is { } newExptime)
            {
                TouchLocked(shard, slot, newExptime, now);
            }
            return DeleteResult.Deleted;
        }
    }

    /// <summary>The live entry's slot for a key, or <see cref="CacheShard.None"/>; an expired one found on the way is reclaimed.</summary>
    private int FindLive(CacheShard shard, ReadOnlySpan<byte> key, int hash, long now)
    {
        var slot = shard.Find(key, hash);
        if (slot == CacheShard.None)
        {
            return CacheShard.None;
        }
        ref var entry = ref shard[slot];
        if (!ExpiryClock.HasExpired(entry.ExpiresAt, now))
        {
            return slot;
        }
        shard.Counters.GetExpired++;
        CountReclaimed(shard, in entry);
        var expiredKey = entry.Key;
        shard.Remove(slot);
        _publisher.Publish(CacheChange.Evicted(expiredKey, EvictionReason.Expiry));
        return CacheShard.None;
    }

    /// <summary>
    /// Stores a value under a key, new or not, as the most recently used; the item's in-memory marks (stale, won,
    /// fetched) start afresh.
    /// </summary>
    /// <param name="cas">The restore path's CAS for the item; 0 takes the next unique.</param>
    /// <param name="ownedKey">The restore path's key array, adopted rather than copied.</param>
    /// <param name="slot">The key's slot, or <see cref="CacheShard.None"/> for a new entry.</param>
    /// <param name="hash">The key's hash, from <see cref="ShardFor"/>.</param>
    /// <returns>The entry's slot.</returns>
    private int PutLocked(CacheShard shard, int slot, ReadOnlySpan<byte> key, int hash, byte[] value, uint flags,
        long expiresAt, bool notify = true, byte[]? ownedKey = null, ulong cas = 0)
    {
        if (slot == CacheShard.None)
        {
            slot = shard.Add(ownedKey ?? key.ToArray(), hash, value);
        }
        else
        {
            shard.MarkUsed(slot);
            shard.ReplaceValue(slot, value);
        }
        ref var entry = ref shard[slot];
        entry.Flags = flags;
        entry.ExpiresAt = expiresAt;
        entry.Cas = cas != 0 ? cas : NextCas();
        entry.ClearMarks();
        shard.Counters.TotalItems++;
        if (notify)
        {
            _publisher.Publish(CacheChange.Stored(entry.Key, entry.Value, entry.Flags, entry.ExpiresAt, entry.Cas));
        }
        return slot;
    }

    /// <returns>False when the new expiry has passed already, so that the entry was removed.</returns>
    private bool TouchLocked(CacheShard shard, int slot, long exptime, long now)
    {
        ref var entry = ref shard[slot];
        var expiresAt = ExpiryClock.ToAbsolute(exptime, now);
        if (ExpiryClock.HasExpired(expiresAt, now))
        {
            var removedKey = entry.Key;
            shard.Remove(slot);
            _publisher.Publish(CacheChange.Deleted(removedKey));
            return false;
        }
        entry.ExpiresAt = expiresAt;
        shard.MarkUsed(slot);
        _publisher.Publish(CacheChange.Touched(entry.Key, expiresAt));
        return true;
    }

    private ulong NextCas() => _cas.Next();

    /// <summary>The key's shard, and its hash, which the shard's table takes too: a key is hashed once per operation.</summary>
    private CacheShard ShardFor(ReadOnlySpan<byte> key, out int hash)
    {
        hash = ByteKeyComparer.Hash(key);
        return _shards[(uint)hash % ShardCount];
    }

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
}

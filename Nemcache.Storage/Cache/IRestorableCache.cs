using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Cache;

/// <summary>
/// The cache as a persistence plugin sees it (<see cref="Persistence.ICachePersistence"/>): what a restore loads items
/// and a flush deadline into, what a compaction, an adopt or a repair takes a snapshot of, and what the plugin
/// subscribes to. <see cref="MemCache"/> is the one implementation; a plugin is given nothing else of it, so the
/// client-facing operations and the cache's internals can change without touching the plugins.
/// </summary>
public interface IRestorableCache
{
    /// <summary>The cache's clock: what its expiries and flush deadlines are measured against.</summary>
    ExpiryClock Clock { get; }

    /// <summary>
    /// Where CAS uniques come from from now on. The plugin sets the persistent sequence (<see cref="CasSequence"/>)
    /// before it restores anything, so that no unique of this run repeats one of an earlier run.
    /// </summary>
    void UseCasSequence(CasSequence sequence);

    /// <summary>
    /// Sizes the cache for about <paramref name="expectedItems"/> items before a restore loads them, so that its tables
    /// do not rehash again and again as they grow.
    /// </summary>
    void EnsureCapacity(long expectedItems);

    /// <summary>
    /// Stores an item read from disk, with no notification. A non-zero <paramref name="cas"/> is the CAS the item had
    /// when it was stored, and it keeps it, so that a client's token for an unchanged item still matches after a
    /// restart; 0 (a record that did not keep its CAS) gives a fresh one. An item whose absolute expiry has passed, or
    /// that is over the item size limit, is skipped. The cache adopts <paramref name="key"/> and
    /// <paramref name="value"/> as its own: nobody may change them afterwards. Returns whether it was stored.
    /// </summary>
    bool RestoreItem(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas = 0);

    /// <summary>
    /// Removes a key's item as a restore replays a removal, with no notification. Returns whether there was one, and it
    /// in <paramref name="removed"/>, expired or not: a replay that moves an item elsewhere keeps its value and CAS.
    /// </summary>
    bool RestoreRemove(ReadOnlySpan<byte> key, out CacheItem removed);

    /// <summary>
    /// Gives a key's item the absolute expiry <paramref name="expiresAt"/> as a restore replays a touch, with no
    /// notification; the item keeps its value and CAS and becomes the most recently used. Returns false when the key
    /// has no item. The caller judges the expiry: this sets it even if it has passed.
    /// </summary>
    bool RestoreTouch(ReadOnlySpan<byte> key, long expiresAt);

    /// <summary>
    /// Re-arms a delayed flush_all found on disk. A deadline that has already passed empties the cache without
    /// notification; the plugin has dropped the records it kills itself.
    /// </summary>
    void RestoreFlushDeadline(long flushAt);

    /// <summary>The absolute time of a pending delayed flush, or null. A snapshot writes it with the items.</summary>
    long? PendingFlushAt { get; }

    /// <summary>
    /// Every live item, shard by shard. Each shard is copied under its lock, so the snapshot of a shard is consistent,
    /// but changes to other shards may be seen or not; a compaction relies only on per-key consistency.
    /// </summary>
    IEnumerable<CacheItem> SnapshotItems();

    /// <summary>
    /// Calls <paramref name="visit"/> for every live item while holding that item's shard lock, so that what the visit
    /// writes elsewhere is ordered with the item's own changes, as a notification would be. For a plugin rewriting its
    /// files from the cache; the visit must be short and must not call back into the cache.
    /// </summary>
    void VisitItemsInOrder(Action<CacheItem> visit);

    /// <summary>How many items the cache holds now, expired ones not yet reclaimed included.</summary>
    long CountItems();

    /// <summary>What the items count against the memory limit now: keys, values and per-item overhead.</summary>
    long UsedBytes { get; }

    /// <summary>Adds an observer; it receives every change made from now on (<see cref="ICacheObserver"/>).</summary>
    void Subscribe(ICacheObserver observer);
}

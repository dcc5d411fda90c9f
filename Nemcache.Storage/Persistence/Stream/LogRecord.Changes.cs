using Google.Protobuf;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>How cache changes and items become log records.</summary>
internal sealed partial class LogRecord
{
    /// <summary>
    /// The record for a change, or null for one the log does not keep (an expiry eviction: the expiry is already in
    /// the item's store record). The cache's arrays are immutable, so they are wrapped, not copied.
    /// </summary>
    public static LogRecord? ForChange(in CacheChange change, ulong sequence) => change.Kind switch
    {
        CacheChangeKind.Store => ForItem(change.Key, change.Value, change.Flags, change.ExpiresAt, change.Cas, sequence),
        CacheChangeKind.Delete => Removal(change.Key, RemoveReason.Delete, sequence),
        CacheChangeKind.Evict when change.Reason == EvictionReason.Capacity =>
            Removal(change.Key, RemoveReason.CapacityEviction, sequence),
        CacheChangeKind.Touch => new LogRecord
        {
            Sequence = sequence,
            Touch = new TouchRecord { Key = UnsafeByteOperations.UnsafeWrap(change.Key), ExpiresAt = change.ExpiresAt },
        },
        CacheChangeKind.Flush => ForFlush(change.FlushAt, pending: change.Delayed, sequence),
        _ => null,
    };

    public static LogRecord ForItem(in CacheItem item, ulong sequence) =>
        ForItem(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas, sequence);

    public static LogRecord ForFlush(long flushAt, bool pending, ulong sequence) => new()
    {
        Sequence = sequence,
        Flush = new FlushRecord { FlushAt = flushAt, Pending = pending },
    };

    private static LogRecord ForItem(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas, ulong sequence) => new()
    {
        Sequence = sequence,
        Store = new StoreRecord
        {
            Key = UnsafeByteOperations.UnsafeWrap(key),
            Value = UnsafeByteOperations.UnsafeWrap(value),
            Flags = flags,
            ExpiresAt = expiresAt,
            Cas = cas,
        },
    };

    private static LogRecord Removal(byte[] key, RemoveReason reason, ulong sequence) => new()
    {
        Sequence = sequence,
        Remove = new RemoveRecord { Key = UnsafeByteOperations.UnsafeWrap(key), Reason = reason },
    };
}

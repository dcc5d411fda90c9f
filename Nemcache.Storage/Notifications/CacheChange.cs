namespace Nemcache.Storage.Notifications;

public enum CacheChangeKind : byte
{
    /// <summary>set, add, replace, append, prepend, cas, incr or decr stored an item; the change carries all of it.</summary>
    Store,
    /// <summary>delete removed a live item.</summary>
    Delete,
    /// <summary>The cache dropped an item on its own; <see cref="CacheChange.Reason"/> says why.</summary>
    Evict,
    /// <summary>touch or gat/gats gave a live item a new expiry; nothing else changed.</summary>
    Touch,
    /// <summary>
    /// flush_all. <see cref="CacheChange.Delayed"/> tells the two kinds apart. An immediate one: at
    /// <see cref="CacheChange.FlushAt"/> (the time of the change) every item stored before it is gone. A delayed one:
    /// the flush is pending until <see cref="CacheChange.FlushAt"/>, and the cache carries it out then, with a second,
    /// immediate Flush change; a later flush_all replaces it.
    /// </summary>
    Flush,
}

public enum EvictionReason : byte
{
    None,
    /// <summary>The memory limit was reached; the least recently used item made room.</summary>
    Capacity,
    /// <summary>The item's expiry passed and the cache reclaimed it.</summary>
    Expiry,
}

/// <summary>
/// One change to the cache, as published to every <see cref="ICacheObserver"/>. Only the fields that
/// <see cref="Kind"/> names are set. The arrays are the cache's own and immutable: an observer may keep them.
/// </summary>
public readonly struct CacheChange
{
    public CacheChangeKind Kind { get; private init; }
    public byte[] Key { get; private init; }
    /// <summary>Store: the whole resulting value.</summary>
    public byte[] Value { get; private init; }
    /// <summary>Store: the client flags.</summary>
    public uint Flags { get; private init; }
    /// <summary>Store and Touch: absolute unix seconds, 0 = never.</summary>
    public long ExpiresAt { get; private init; }
    /// <summary>Store: the item's new CAS unique.</summary>
    public ulong Cas { get; private init; }
    /// <summary>Evict: why.</summary>
    public EvictionReason Reason { get; private init; }
    /// <summary>Flush: absolute unix seconds at which the flush takes effect.</summary>
    public long FlushAt { get; private init; }
    /// <summary>
    /// Flush: the flush is pending (a delayed flush_all), not carried out yet. The cache decides this against its own
    /// clock when it makes the change; an observer must not compare <see cref="FlushAt"/> with a clock of its own, which
    /// may have moved on since.
    /// </summary>
    public bool Delayed { get; private init; }

    public static CacheChange Stored(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas) =>
        new() { Kind = CacheChangeKind.Store, Key = key, Value = value, Flags = flags, ExpiresAt = expiresAt, Cas = cas };

    public static CacheChange Deleted(byte[] key) =>
        new() { Kind = CacheChangeKind.Delete, Key = key, Value = [] };

    public static CacheChange Evicted(byte[] key, EvictionReason reason) =>
        new() { Kind = CacheChangeKind.Evict, Key = key, Value = [], Reason = reason };

    public static CacheChange Touched(byte[] key, long expiresAt) =>
        new() { Kind = CacheChangeKind.Touch, Key = key, Value = [], ExpiresAt = expiresAt };

    /// <summary>The cache has been emptied, at <paramref name="now"/>.</summary>
    public static CacheChange Flushed(long now) =>
        new() { Kind = CacheChangeKind.Flush, Key = [], Value = [], FlushAt = now };

    /// <summary>A delayed flush_all: the cache will be emptied at <paramref name="flushAt"/>.</summary>
    public static CacheChange FlushDelayed(long flushAt) =>
        new() { Kind = CacheChangeKind.Flush, Key = [], Value = [], FlushAt = flushAt, Delayed = true };

    public override string ToString() => Kind switch
    {
        CacheChangeKind.Store => $"Store {Key.Length}B key, {Value.Length}B value, flags {Flags}, expires {ExpiresAt}, cas {Cas}",
        CacheChangeKind.Evict => $"Evict ({Reason}) {Key.Length}B key",
        CacheChangeKind.Touch => $"Touch {Key.Length}B key, expires {ExpiresAt}",
        CacheChangeKind.Flush when Delayed => $"Flush delayed to {FlushAt}",
        CacheChangeKind.Flush => $"Flush at {FlushAt}",
        _ => $"{Kind} {Key.Length}B key",
    };
}

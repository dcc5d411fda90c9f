namespace Nemcache.Storage.Cache;

/// <summary>
/// A snapshot of one item as the cache held it. The arrays are the cache's own and are never mutated once stored
/// (every change stores new arrays), so a snapshot stays valid after the lock is released.
/// </summary>
public readonly record struct CacheItem(byte[] Key, byte[] Value, uint Flags, long ExpiresAt, ulong Cas);

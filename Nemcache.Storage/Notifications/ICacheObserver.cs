namespace Nemcache.Storage.Notifications;

/// <summary>
/// Receives every change <see cref="Cache.MemCache"/> makes.
/// <para>
/// Delivery guarantee: the cache calls <see cref="OnChange"/> synchronously while it still holds the lock of the key
/// being changed (for a flush, every lock), so an observer sees each key's changes in exactly the order the cache
/// applied them, and a flush between the changes it separates. Changes to different keys may arrive concurrently
/// from different threads. Keep the call short: it delays other requests for keys of the same shard.
/// </para>
/// <para>
/// An observer that throws does not undo the change and does not stop the other observers; the cache counts and logs
/// the failure.
/// </para>
/// </summary>
public interface ICacheObserver
{
    void OnChange(in CacheChange change);
}

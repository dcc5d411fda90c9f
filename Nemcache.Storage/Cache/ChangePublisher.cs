using Microsoft.Extensions.Logging;
using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Cache;

/// <summary>
/// Hands each cache change to every subscribed <see cref="ICacheObserver"/>, in the caller's thread (the cache calls it
/// under the key's lock), and keeps one observer's failure from undoing the change or reaching the others: it is
/// counted and logged.
/// </summary>
internal sealed class ChangePublisher(ILogger logger)
{
    private ICacheObserver[] _observers = [];
    private long _failures;

    /// <summary>Observers that threw, since the cache was created (`stats` does not reset it).</summary>
    public long Failures => Volatile.Read(ref _failures);

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

    public void Publish(in CacheChange change)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnChange(in change);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures);
                logger.LogError(ex, "Cache observer {Observer} failed on {Change}", observer.GetType().Name, change);
            }
        }
    }
}

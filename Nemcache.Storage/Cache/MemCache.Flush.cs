using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Cache;

/// <summary>
/// flush_all, immediate and delayed. A delayed flush is carried out by the first operation that reads the time after
/// its deadline (<see cref="NowAfterDueFlush"/>), under every shard lock, so that no operation ever sees an item the
/// flush should have removed.
/// </summary>
public sealed partial class MemCache
{
    private const long NoPendingFlush = long.MaxValue;

    private long _flushAt = NoPendingFlush;

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
        _counters.CountFlushCommand();
        var now = NowAfterDueFlush();
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
            _publisher.Publish(CacheChange.FlushDelayed(at));
        }
        finally
        {
            ExitAll();
        }
        return true;
    }

    /// <summary>
    /// The cache clock's unix time, after carrying out a delayed flush whose time has come: then it takes every shard
    /// lock and empties the cache first. Every operation reads the time through this, and reads it before it takes its
    /// own shard lock.
    /// </summary>
    private long NowAfterDueFlush()
    {
        var now = _clock.Now;
        if (now >= Volatile.Read(ref _flushAt))
        {
            RunDueFlush(now);
        }
        return now;
    }

    private void FlushNow(long now, bool notify)
    {
        EnterAll();
        try
        {
            foreach (var shard in _shards)
            {
                shard.Clear();
            }
            Volatile.Write(ref _flushAt, NoPendingFlush);
            if (notify)
            {
                _publisher.Publish(CacheChange.Flushed(now));
            }
        }
        finally
        {
            ExitAll();
        }
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
                shard.Clear();
            }
            Volatile.Write(ref _flushAt, NoPendingFlush);
            _publisher.Publish(CacheChange.Flushed(now));
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
}

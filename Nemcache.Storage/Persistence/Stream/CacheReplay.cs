using System.Runtime.CompilerServices;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// A restore's replay: applies each log record straight to the cache, in log order, so that no map of the log's last
/// items is built and then copied into the cache. The outcome is the one of <see cref="StreamLogReplay"/>'s map loaded
/// into the cache: the last record for a key decides it, an immediate flush drops everything before it, and the last
/// pending flush is re-armed (or, when its deadline passed while the server was down, empties the cache) at the end.
/// An item whose expiry has passed when its record is applied, or that is over the item size limit, cannot be in the
/// cache, yet a later touch may give it a live expiry again, as the map would: such items are parked beside the cache
/// until a later record for their key decides them. A key is never both parked and in the cache.
/// </summary>
internal sealed class CacheReplay(IRestorableCache cache) : IReplayTarget
{
    private readonly Dictionary<byte[], CacheItem> _parked = new(ByteKeyComparer.Instance);
    private readonly long _itemsBefore = cache.CountItems();
    private readonly long _usedBefore = cache.UsedBytes;
    private long? _pendingFlushAt;

    /// <summary>Reads the log at <paramref name="path"/> and applies every good record to the cache
    /// (<see cref="ReplayPipeline"/>); returns what the reading found. Then call <see cref="Finish"/>.</summary>
    public LogScan Read(string path) => ReplayPipeline.Read(path, this);

    /// <summary>Sizes the cache's tables for about <paramref name="records"/> keys. A log holds at most a few records per
    /// live key, since a compaction rewrites it once it is twice its live data (<see cref="LogSizeBound"/>).</summary>
    public void ExpectRecords(int records) => cache.EnsureCapacity(records);

    /// <inheritdoc/>
    [MethodImpl(RestoreHotPath.Compile)]
    public void Apply(in ReplayRecord record)
    {
        switch (record.Change)
        {
            case LogRecord.ChangeOneofCase.Store:
                Store(new CacheItem(record.Key, record.Value, record.Flags, record.ExpiresAt, record.Cas));
                break;
            case LogRecord.ChangeOneofCase.Remove:
                cache.RestoreRemove(record.Key, out _);
                Unpark(record.Key);
                break;
            case LogRecord.ChangeOneofCase.Touch:
                Touch(record.Key, record.ExpiresAt);
                break;
            case LogRecord.ChangeOneofCase.Flush when record.Pending:
                _pendingFlushAt = record.FlushAt;
                break;
            case LogRecord.ChangeOneofCase.Flush:
                cache.RestoreFlushDeadline(cache.Clock.Now);
                _parked.Clear();
                _pendingFlushAt = null;
                break;
        }
    }

    /// <summary>
    /// Re-arms the pending flush the log ends with, if any, and says what the replay left in the cache. A pending flush
    /// whose deadline passed while the server was down empties the cache: every record in the log was written before
    /// that deadline, because the running cache logs an immediate flush the moment it carries one out. The parked items
    /// are dropped: each had expired (it stays so) or was too large when its record was applied.
    /// </summary>
    public ReplayLoad Finish()
    {
        _parked.Clear();
        if (_pendingFlushAt is { } deadline)
        {
            cache.RestoreFlushDeadline(deadline);
            // The deadline may have come already, or while the items were loading; then the cache has just flushed them.
            if (cache.PendingFlushAt is null)
            {
                return new ReplayLoad(0, 0, FlushedWhileDown: true);
            }
        }
        var items = cache.CountItems() - _itemsBefore;
        var bytes = cache.UsedBytes - _usedBefore - items * CacheLimits.ItemOverheadBytes;
        return new ReplayLoad(items, bytes, FlushedWhileDown: false);
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void Store(in CacheItem item)
    {
        if (cache.RestoreItem(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas))
        {
            Unpark(item.Key);
            return;
        }
        // The record replaces the key's item all the same; it waits here for a touch that might revive it.
        cache.RestoreRemove(item.Key, out _);
        _parked[item.Key] = item;
    }

    private void Touch(byte[] key, long expiresAt)
    {
        if (ExpiryClock.HasExpired(expiresAt, cache.Clock.Now))
        {
            if (cache.RestoreRemove(key, out var removed))
            {
                _parked[key] = removed with { ExpiresAt = expiresAt };
            }
            else if (_parked.TryGetValue(key, out var parked))
            {
                _parked[key] = parked with { ExpiresAt = expiresAt };
            }
        }
        else if (!cache.RestoreTouch(key, expiresAt) && _parked.Remove(key, out var parked))
        {
            // A touch changes only the expiry: the item keeps its CAS, as in the cache.
            Store(parked with { ExpiresAt = expiresAt });
        }
        // A touch of a key in neither place follows a store that replay dropped: the cache only logs a touch of a live item.
    }

    private void Unpark(byte[] key)
    {
        if (_parked.Count > 0)
        {
            _parked.Remove(key);
        }
    }
}

/// <summary>What a replay put into the cache. FlushedWhileDown: a pending flush's deadline passed, so it holds nothing
/// and the log needs an immediate flush marker to say so.</summary>
internal readonly record struct ReplayLoad(long Items, long Bytes, bool FlushedWhileDown);

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// What a log holds, as a map of every key's last item, for readers that do not restore it
/// (<see cref="StreamLogContents"/>): the last record for a key decides it, an immediate flush drops everything before
/// it, and the last pending flush is remembered. A restore applies the same records straight to the cache instead
/// (<see cref="CacheReplay"/>), with the same outcome.
/// </summary>
internal sealed class StreamLogReplay : IReplayTarget
{
    private readonly Dictionary<byte[], ReplayedItem> _items = new(ByteKeyComparer.Instance);

    /// <summary>Reads the log at <paramref name="path"/> (<see cref="StreamLogReader"/>) and applies every good record
    /// (<see cref="ReplayPipeline"/>); returns what the reading found.</summary>
    public LogScan Read(string path) => ReplayPipeline.Read(path, this);

    /// <summary>Every key's surviving item, expired ones included (the loader decides against its own clock).</summary>
    public IEnumerable<CacheItem> Items
    {
        get
        {
            foreach (var (key, item) in _items)
            {
                yield return new CacheItem(key, item.Value, item.Flags, item.ExpiresAt, item.Cas);
            }
        }
    }

    /// <summary>The deadline of a delayed flush_all that no later flush replaced, or null.</summary>
    public long? PendingFlushAt { get; private set; }

    /// <summary>Sizes the map for about <paramref name="records"/> keys. A log holds at most a few records per live key,
    /// since a compaction rewrites it once it is twice its live data (<see cref="LogSizeBound"/>).</summary>
    public void ExpectRecords(int records) => _items.EnsureCapacity(records);

    /// <summary>Applies one record, in log order; a store's key and value become the cache's.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public void Apply(in ReplayRecord record)
    {
        switch (record.Change)
        {
            case LogRecord.ChangeOneofCase.Store:
                ref var item = ref CollectionsMarshal.GetValueRefOrAddDefault(_items, record.Key, out _);
                item = new ReplayedItem(record.Value, record.Flags, record.ExpiresAt, record.Cas);
                break;
            case LogRecord.ChangeOneofCase.Remove:
                _items.Remove(record.Key);
                break;
            case LogRecord.ChangeOneofCase.Touch:
                // The cache only writes a touch for a live item, so a missing key means a store that replay dropped.
                ref var touched = ref CollectionsMarshal.GetValueRefOrNullRef(_items, record.Key);
                if (!Unsafe.IsNullRef(ref touched))
                {
                    touched.ExpiresAt = record.ExpiresAt;
                }
                break;
            case LogRecord.ChangeOneofCase.Flush when record.Pending:
                PendingFlushAt = record.FlushAt;
                break;
            case LogRecord.ChangeOneofCase.Flush:
                _items.Clear();
                PendingFlushAt = null;
                break;
        }
    }

    /// <summary>A touch changes only the expiry: the item keeps its CAS, as in the cache.</summary>
    private struct ReplayedItem(byte[] value, uint flags, long expiresAt, ulong cas)
    {
        public readonly byte[] Value = value;
        public readonly uint Flags = flags;
        public readonly ulong Cas = cas;
        public long ExpiresAt = expiresAt;
    }
}

/// <summary>A record as replay keeps it: <see cref="LogRecordView"/>'s fields, with the key and value copied out of the
/// frame into arrays of their own (empty for a flush).</summary>
internal readonly record struct ReplayRecord(
    LogRecord.ChangeOneofCase Change, byte[] Key, byte[] Value, uint Flags, long ExpiresAt, ulong Cas, long FlushAt, bool Pending)
{
    [MethodImpl(RestoreHotPath.Compile)]
    public static ReplayRecord Own(in LogRecordView record) => new(
        record.Change, record.Key.ToArray(), record.Value.ToArray(), record.Flags, record.ExpiresAt, record.Cas,
        record.FlushAt, record.Pending);
}

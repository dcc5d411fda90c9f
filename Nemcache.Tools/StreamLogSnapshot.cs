using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tools;

/// <summary>
/// A stream log's state as the server would restore it, read with the plugin's own reader and replay, up to the
/// length the log had when the read began: records appended later are not seen, and the file is only read.
/// </summary>
internal sealed class StreamLogSnapshot
{
    private readonly StreamLogReplay _replay;
    private readonly LogScan _scan;
    private readonly long _now;

    private StreamLogSnapshot(StreamLogReplay replay, LogScan scan, long now)
    {
        _replay = replay;
        _scan = scan;
        _now = now;
    }

    public static StreamLogSnapshot Read(string directory, long now, TextWriter warnings)
    {
        var replay = new StreamLogReplay();
        var scan = StreamLogReader.Read(Path.Combine(directory, StreamLogFormat.LogFileName), replay.Apply);
        foreach (var damage in scan.Skipped)
        {
            warnings.WriteLine($"{RecoveryWarnings.Prefix}{StreamLogFormat.LogFileName}: skipped a damaged record, {damage}");
        }
        if (scan.Cut is { } cut)
        {
            warnings.WriteLine($"{RecoveryWarnings.Prefix}{StreamLogFormat.LogFileName}: dropped {cut.Length} bytes from offset {cut.Offset} ({cut.Reason})");
        }
        return new StreamLogSnapshot(replay, scan, now);
    }

    /// <summary>The items the server would load: replay's last word on each key, unexpired, unless a delayed flush_all
    /// came due while no server ran (then none, as <see cref="StreamLogReplay.LoadInto"/> decides).</summary>
    public IEnumerable<LiveItem> LiveItems()
    {
        var flushAt = _replay.PendingFlushAt;
        if (flushAt <= _now)
        {
            yield break;
        }
        foreach (var (key, value, flags, expiresAt) in _replay.Items)
        {
            if (!ExpiryClock.HasExpired(expiresAt, _now))
            {
                yield return new LiveItem(key, value, flags, expiresAt).ExpiringBy(flushAt);
            }
        }
    }

    /// <summary>Live bytes are what a compaction would keep: the header and one store record per live item.</summary>
    public DirectoryStatistics Statistics()
    {
        long keys = 0, keyBytes = 0, valueBytes = 0, live = _scan.HasHeader ? StreamLogFormat.HeaderSize : 0;
        var pending = _replay.PendingFlushAt > _now ? _replay.PendingFlushAt : null;
        if (pending is not null)
        {
            live += StreamLogFormat.FrameHeaderSize + LogRecord.ForFlush(pending.Value, pending: true, _scan.LastSequence).CalculateSize();
        }
        foreach (var item in LiveItems())
        {
            keys++;
            keyBytes += item.Key.Length;
            valueBytes += item.Value.Length;
            var record = LogRecord.ForItem(new CacheItem(item.Key, item.Value, item.Flags, item.ExpiresAt, Cas: 0), _scan.LastSequence);
            live += StreamLogFormat.FrameHeaderSize + record.CalculateSize();
        }
        var file = new FileStatistics(StreamLogFormat.LogFileName, _scan.FileLength, live, _scan.FileLength - live);
        return new DirectoryStatistics(DataFormat.Stream, [file], keys, keyBytes, valueBytes, pending);
    }
}

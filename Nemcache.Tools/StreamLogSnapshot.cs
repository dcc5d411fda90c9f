using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tools;

/// <summary>
/// A stream log's state as the server would restore it, read with the plugin's own reader and replay, up to the
/// length the log had when the read began: records appended later are not seen, and the file is only read.
/// </summary>
internal sealed class StreamLogSnapshot
{
    private readonly StreamLogContents _log;
    private readonly long _now;

    private StreamLogSnapshot(StreamLogContents log, long now)
    {
        _log = log;
        _now = now;
    }

    public static StreamLogSnapshot Read(string directory, long now, TextWriter warnings)
    {
        var log = StreamLogContents.Read(directory);
        foreach (var damage in log.Skipped)
        {
            warnings.WriteLine($"{RecoveryWarnings.Prefix}{StreamLogContents.LogFileName}: skipped a damaged record, {damage}");
        }
        if (log.Cut is { } cut)
        {
            warnings.WriteLine($"{RecoveryWarnings.Prefix}{StreamLogContents.LogFileName}: dropped {cut.Length} bytes from offset {cut.Offset} ({cut.Reason})");
        }
        return new StreamLogSnapshot(log, now);
    }

    /// <summary>The items the server would load: replay's last word on each key, unexpired, unless a delayed flush_all
    /// came due while no server ran (then none, as the plugin's restore decides).</summary>
    public IEnumerable<LiveItem> LiveItems()
    {
        var flushAt = _log.PendingFlushAt;
        if (flushAt <= _now)
        {
            yield break;
        }
        foreach (var item in _log.Items)
        {
            if (!ExpiryClock.HasExpired(item.ExpiresAt, _now))
            {
                yield return new LiveItem(item.Key, item.Value, item.Flags, item.ExpiresAt).ExpiringBy(flushAt);
            }
        }
    }

    /// <summary>Live bytes are what a compaction would keep: the header and one store record per live item.</summary>
    public DirectoryStatistics Statistics()
    {
        var pending = _log.PendingFlushAt > _now ? _log.PendingFlushAt : null;
        var live = LiveItems().ToList();
        var liveBytes = _log.CompactedLength(
            live.Select(item => new CacheItem(item.Key, item.Value, item.Flags, item.ExpiresAt, Cas: 0)), pending);
        var file = new FileStatistics(StreamLogContents.LogFileName, _log.FileLength, liveBytes, _log.FileLength - liveBytes);
        return new DirectoryStatistics(DataFormat.Stream, [file], live.Count, live.Sum(item => (long)item.Key.Length),
            live.Sum(item => (long)item.Value.Length), pending);
    }
}

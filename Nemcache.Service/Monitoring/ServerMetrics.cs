using System.Diagnostics.Metrics;
using System.Globalization;
using Nemcache.Service.Protocol;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Monitoring;

/// <summary>
/// The server's figures as System.Diagnostics.Metrics instruments on the "Nemcache" meter: the cache and connection
/// figures `stats` reports, and persistence health in names that are the same for both plugins, so one alert covers
/// either. Every instrument is observed when a listener collects (a Prometheus scrape, dotnet-counters), from the same
/// statistics `stats` reads; nothing is counted twice. The fsync histogram is recorded as fsyncs happen
/// (<see cref="PersistenceMeter"/>).
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    /// <summary>A persistence figure, by the name each plugin gives it in `stats` (ICachePersistence.GetStats).</summary>
    private sealed record PluginFigure(string StreamStat, string BitcaskStat, double Scale = 1);

    private static readonly PluginFigure WriteFailures = new("stream_write_failures", "bitcask_write_failures");
    private static readonly PluginFigure Fsyncs = new("stream_fsyncs", "bitcask_fsyncs");
    private static readonly PluginFigure Compactions = new("stream_compactions", "bitcask_merges");
    private static readonly PluginFigure RestoreSeconds = new("stream_last_restore_ms", "bitcask_recovery_ms", Scale: 0.001);
    private static readonly PluginFigure RestoreItems = new("stream_last_restore_items", "bitcask_recovered_keys");
    private static readonly PluginFigure LiveBytes = new("stream_live_bytes", "bitcask_live_bytes");
    private static readonly PluginFigure DeadBytes = new("stream_dead_bytes", "bitcask_dead_bytes");

    private readonly Meter _meter = new(PersistenceMeter.MeterName);
    private readonly ServerContext _context;

    public ServerMetrics(ServerContext context)
    {
        _context = context;
        var cache = context.Cache;
        var server = context.Statistics;

        _meter.CreateObservableGauge("nemcache.cache.items", () => cache.GetStatistics().CurrentItems,
            description: "Items in the cache");
        _meter.CreateObservableGauge("nemcache.cache.bytes", () => cache.GetStatistics().Bytes, unit: "By",
            description: "Bytes counted against the memory limit: keys, values and per-item overhead");
        _meter.CreateObservableGauge("nemcache.cache.limit", () => cache.Options.MemoryLimitBytes, unit: "By",
            description: "The memory limit (-m)");
        _meter.CreateObservableCounter("nemcache.cache.evictions", () => cache.GetStatistics().Evictions,
            description: "Items evicted to stay within the memory limit");
        _meter.CreateObservableCounter("nemcache.cache.reclaimed", () => cache.GetStatistics().Reclaimed,
            description: "Expired items removed");
        _meter.CreateObservableCounter("nemcache.cache.stores_too_large", () => cache.GetStatistics().StoreTooLarge,
            description: "Stores refused because the value was over the item size limit");
        _meter.CreateObservableCounter("nemcache.cache.observer_failures", () => cache.GetStatistics().ObserverFailures,
            description: "Changes a persistence plugin failed to take");
        _meter.CreateObservableCounter("nemcache.commands", () => Commands(cache.GetStatistics()),
            description: "Commands by command and result, as memcached's *_hits and *_misses count them");

        _meter.CreateObservableGauge("nemcache.connections.current", () => server.CurrentConnections,
            description: "Open client connections");
        _meter.CreateObservableCounter("nemcache.connections.accepted", () => server.TotalConnections,
            description: "Client connections accepted");
        _meter.CreateObservableCounter("nemcache.connections.rejected", () => server.RejectedConnections,
            description: "Client connections refused at the connection limit (-c)");
        _meter.CreateObservableCounter("nemcache.network.received", () => server.BytesRead, unit: "By",
            description: "Bytes read from clients");
        _meter.CreateObservableCounter("nemcache.network.sent", () => server.BytesWritten, unit: "By",
            description: "Bytes written to clients");
        _meter.CreateObservableGauge("nemcache.uptime", () => (DateTimeOffset.UtcNow - server.StartedAt).TotalSeconds, unit: "s",
            description: "Seconds since the server started");

        if (context.Persistence is null)
        {
            return;
        }
        _meter.CreateObservableGauge("nemcache.persistence.failing", () => Tagged(_context.Persistence?.Failure is null ? 0 : 1),
            description: "1 while the plugin cannot make changes durable (a full disk, say) and mutations are refused");
        _meter.CreateObservableCounter("nemcache.persistence.write_failures", () => Plugin(WriteFailures),
            description: "Writes or fsyncs the plugin failed");
        _meter.CreateObservableCounter("nemcache.persistence.fsyncs", () => Plugin(Fsyncs),
            description: "Group-commit fsyncs completed");
        _meter.CreateObservableCounter("nemcache.persistence.compactions", () => Plugin(Compactions),
            description: "Stream log compactions, or Bitcask merges, run");
        _meter.CreateObservableGauge("nemcache.persistence.restore.duration", () => Plugin(RestoreSeconds), unit: "s",
            description: "How long the last restore took, before the port opened");
        _meter.CreateObservableGauge("nemcache.persistence.restore.items", () => Plugin(RestoreItems),
            description: "Items the last restore loaded");
        _meter.CreateObservableGauge("nemcache.persistence.disk.live", () => Plugin(LiveBytes), unit: "By",
            description: "Bytes on disk that hold live data (the stream log's is an estimate)");
        _meter.CreateObservableGauge("nemcache.persistence.disk.dead", () => Plugin(DeadBytes), unit: "By",
            description: "Bytes on disk that compaction or merge would reclaim");
    }

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<long>> Commands(CacheStatistics cache)
    {
        yield return Command("get", "hit", cache.GetHits);
        yield return Command("get", "miss", cache.GetMisses);
        yield return Command("get", "expired", cache.GetExpired);
        yield return Command("get", "flushed", cache.GetFlushed);
        yield return Command("set", "hit", cache.SetCommands);
        yield return Command("delete", "hit", cache.DeleteHits);
        yield return Command("delete", "miss", cache.DeleteMisses);
        yield return Command("incr", "hit", cache.IncrHits);
        yield return Command("incr", "miss", cache.IncrMisses);
        yield return Command("decr", "hit", cache.DecrHits);
        yield return Command("decr", "miss", cache.DecrMisses);
        yield return Command("cas", "hit", cache.CasHits);
        yield return Command("cas", "miss", cache.CasMisses);
        yield return Command("cas", "badval", cache.CasBadValue);
        yield return Command("touch", "hit", cache.TouchHits);
        yield return Command("touch", "miss", cache.TouchMisses);
        yield return Command("flush", "hit", cache.FlushCommands);
    }

    private static Measurement<long> Command(string command, string result, long value) =>
        new(value, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("result", result));

    private Measurement<double> Tagged(double value) =>
        new(value, new KeyValuePair<string, object?>("plugin", _context.Persistence?.Name));

    /// <summary>A plugin figure read from its `stats` listing; absent (never reported yet, say) reads as 0.</summary>
    private Measurement<double> Plugin(PluginFigure figure)
    {
        var persistence = _context.Persistence!;
        var name = persistence.Name == "bitcask" ? figure.BitcaskStat : figure.StreamStat;
        foreach (var (stat, text) in persistence.GetStats())
        {
            if (stat == name && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return Tagged(value * figure.Scale);
            }
        }
        return Tagged(0);
    }
}

using System.Diagnostics;
using System.Globalization;

namespace Nemcache.Service.Protocol;

/// <summary>
/// The `stats` and `stats settings` listings, with memcached 1.6's field names, for every protocol that reports
/// statistics. Not a hot path: it allocates freely.
/// </summary>
public static class StatsReport
{
    public static List<KeyValuePair<string, string>> General(ServerContext context)
    {
        var cache = context.Cache.GetStatistics();
        var server = context.Statistics;
        var process = Process.GetCurrentProcess();
        var now = DateTimeOffset.UtcNow;
        var stats = new List<KeyValuePair<string, string>>();
        void Add(string name, object value) =>
            stats.Add(KeyValuePair.Create(name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));

        Add("pid", Environment.ProcessId);
        Add("uptime", (long)(now - server.StartedAt).TotalSeconds);
        Add("time", now.ToUnixTimeSeconds());
        Add("version", ServerContext.Version);
        Add("nemcache_version", BuildInfo.Version);
        Add("nemcache_commit", BuildInfo.Commit);
        Add("pointer_size", IntPtr.Size * 8);
        Add("rusage_user", process.UserProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture));
        Add("rusage_system", process.PrivilegedProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture));
        Add("max_connections", context.Settings.ConnectionLimit);
        Add("curr_connections", server.CurrentConnections);
        Add("total_connections", server.TotalConnections);
        Add("rejected_connections", server.RejectedConnections);
        Add("cmd_get", cache.GetHits + cache.GetMisses);
        Add("cmd_set", cache.SetCommands);
        Add("cmd_flush", cache.FlushCommands);
        Add("cmd_touch", cache.TouchHits + cache.TouchMisses);
        Add("get_hits", cache.GetHits);
        Add("get_misses", cache.GetMisses);
        Add("get_expired", cache.GetExpired);
        Add("get_flushed", cache.GetFlushed);
        Add("delete_misses", cache.DeleteMisses);
        Add("delete_hits", cache.DeleteHits);
        Add("incr_misses", cache.IncrMisses);
        Add("incr_hits", cache.IncrHits);
        Add("decr_misses", cache.DecrMisses);
        Add("decr_hits", cache.DecrHits);
        Add("cas_misses", cache.CasMisses);
        Add("cas_hits", cache.CasHits);
        Add("cas_badval", cache.CasBadValue);
        Add("touch_hits", cache.TouchHits);
        Add("touch_misses", cache.TouchMisses);
        Add("bytes_read", server.BytesRead);
        Add("bytes_written", server.BytesWritten);
        Add("limit_maxbytes", cache.LimitBytes);
        Add("accepting_conns", 1);
        Add("threads", Environment.ProcessorCount);
        Add("bytes", cache.Bytes);
        Add("curr_items", cache.CurrentItems);
        Add("total_items", cache.TotalItems);
        Add("evictions", cache.Evictions);
        Add("reclaimed", cache.Reclaimed);
        Add("observer_failures", cache.ObserverFailures);
        Add("persistence", context.Persistence?.Name ?? "none");
        if (context.Persistence is { } persistence)
        {
            stats.AddRange(persistence.GetStats());
        }
        return stats;
    }

    public static List<KeyValuePair<string, string>> Settings(ServerContext context)
    {
        var settings = context.Settings;
        return
        [
            KeyValuePair.Create("maxbytes", (settings.MemoryLimitMegabytes * 1024 * 1024).ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("maxconns", settings.ConnectionLimit.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("tcpport", settings.Port.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("udpport", "0"),
            KeyValuePair.Create("inter", settings.Listen.ToString()),
            KeyValuePair.Create("verbosity", context.Verbosity.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("evictions", "on"),
            KeyValuePair.Create("cas_enabled", "yes"),
            KeyValuePair.Create("item_size_max", settings.MaxItemSize.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("binding_protocol", "auto-negotiate"),
            KeyValuePair.Create("persistence", settings.UseBitcask ? "bitcask" : "stream"),
            KeyValuePair.Create("data_dir", Path.GetFullPath(settings.DataDirectory)),
            KeyValuePair.Create("sync", settings.Sync.ToString().ToLowerInvariant()),
            KeyValuePair.Create("sync_interval_ms", ((long)settings.SyncInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)),
        ];
    }
}

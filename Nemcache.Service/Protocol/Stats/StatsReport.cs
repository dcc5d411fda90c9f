using System.Diagnostics;
using System.Globalization;

namespace Nemcache.Service.Protocol.Stats;

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
        Add("store_too_large", cache.StoreTooLarge);
        // Eviction makes room for every store that fits -I, which is at most half of -m: none fails for memory.
        Add("store_no_memory", 0);
        Add("bytes_read", server.BytesRead);
        Add("bytes_written", server.BytesWritten);
        Add("limit_maxbytes", cache.LimitBytes);
        Add("accepting_conns", 1);
        // The listener is never paused (a connection over -c is refused at once, as with memcached's maxconns_fast),
        // and no connection is made to yield to others.
        Add("listen_disabled_num", 0);
        Add("time_in_listen_disabled_us", 0);
        Add("threads", Environment.ProcessorCount);
        Add("conn_yields", 0);
        Add("lru_crawler_starts", cache.ReclaimRuns);
        Add("bytes", cache.Bytes);
        Add("curr_items", cache.CurrentItems);
        Add("total_items", cache.TotalItems);
        Add("expired_unfetched", cache.ExpiredUnfetched);
        Add("evicted_unfetched", cache.EvictedUnfetched);
        Add("evictions", cache.Evictions);
        Add("reclaimed", cache.Reclaimed);
        Add("crawler_reclaimed", cache.CrawlerReclaimed);
        Add("crawler_items_checked", cache.CrawlerItemsChecked);
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
        var stats = new List<KeyValuePair<string, string>>();
        void Add(string name, object value) =>
            stats.Add(KeyValuePair.Create(name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));

        // memcached's settings, in its order, where Nemcache has the setting or behaves as the value says.
        Add("maxbytes", settings.MemoryLimitMegabytes * 1024 * 1024);
        Add("maxconns", settings.ConnectionLimit);
        Add("tcpport", settings.Port);
        Add("udpport", 0);
        Add("inter", settings.Listen.ToString());
        Add("verbosity", context.Verbosity);
        Add("evictions", "on");
        Add("domain_socket", "NULL");
        Add("shutdown_command", "no");
        Add("num_threads", Environment.ProcessorCount);
        Add("stat_key_prefix", ":");
        Add("detail_enabled", "no");
        Add("cas_enabled", "yes");
        Add("tcp_backlog", settings.ListenBacklog);
        Add("binding_protocol", "auto-negotiate");
        Add("auth_enabled_sasl", "no");
        Add("auth_enabled_ascii", "no");
        Add("item_size_max", settings.MaxItemSize);
        Add("maxconns_fast", "yes");
        Add("slab_reassign", "no");
        Add("slab_automove", 0);
        Add("lru_crawler", "yes");
        Add("tail_repair_time", 0);
        Add("flush_enabled", "yes");
        Add("dump_enabled", "yes");
        Add("lru_maintainer_thread", "no");
        Add("lru_segmented", "no");
        Add("temp_lru", "no");
        Add("idle_timeout", 0);
        Add("track_sizes", "no");
        Add("inline_ascii_response", "no");
        Add("ssl_enabled", "no");
        Add("memory_file", "(null)");

        // Nemcache's own: persistence and monitoring.
        Add("persistence", settings.UseBitcask ? "bitcask" : "stream");
        Add("data_dir", Path.GetFullPath(settings.DataDirectory));
        Add("sync", settings.Sync.ToString().ToLowerInvariant());
        Add("sync_interval_ms", (long)settings.SyncInterval.TotalMilliseconds);
        Add("stream_compact_bytes", settings.StreamCompactBytes);
        Add("bitcask_max_file_bytes", settings.BitcaskMaxFileBytes);
        Add("bitcask_merge_fragmentation", settings.BitcaskMergeFragmentation.ToString("0.00", CultureInfo.InvariantCulture));
        Add("bitcask_merge_min_dead_bytes", settings.BitcaskMergeMinDeadBytes);
        Add("metrics_listen", settings.MetricsListen?.ToString() ?? "off");
        return stats;
    }
}

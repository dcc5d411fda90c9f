using System.Net;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Configuration;

/// <summary>Every setting the server runs with, validated. Defaults are memcached's where memcached has the setting.</summary>
public sealed record ServerSettings
{
    public int Port { get; init; } = 11211;
    public IPAddress Listen { get; init; } = IPAddress.Loopback;
    public long MemoryLimitMegabytes { get; init; } = CacheLimits.DefaultMemoryLimitMegabytes;
    public int ConnectionLimit { get; init; } = 1024;
    public int MaxItemSize { get; init; } = CacheLimits.DefaultMaxItemSize;
    public string DataDirectory { get; init; } = PersistenceOptions.DefaultDataDirectory;
    public bool UseBitcask { get; init; }
    public SyncMode Sync { get; init; } = SyncMode.Interval;
    public TimeSpan SyncInterval { get; init; } = PersistenceOptions.DefaultSyncInterval;

    /// <summary>StreamArchiver: the log size past which it may be compacted (NEMCACHE_STREAM_COMPACT_BYTES).</summary>
    public long StreamCompactBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Bitcask: the size at which the active data file rotates.</summary>
    public long BitcaskMaxFileBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Bitcask: merge when the dead share of immutable files' bytes passes this...</summary>
    public double BitcaskMergeFragmentation { get; init; } = 0.5;

    /// <summary>Bitcask: ...and their dead bytes pass this.</summary>
    public long BitcaskMergeMinDeadBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Where the Prometheus endpoint listens (NEMCACHE_METRICS_LISTEN); null, the default, leaves it off.</summary>
    public IPEndPoint? MetricsListen { get; init; }

    public CacheOptions ToCacheOptions() => new()
    {
        MemoryLimitBytes = MemoryLimitMegabytes * 1024 * 1024,
        MaxItemSize = MaxItemSize,
    };

    public PersistenceOptions ToPersistenceOptions() => new()
    {
        DataDirectory = DataDirectory,
        Sync = Sync,
        SyncInterval = SyncInterval,
    };

    /// <summary>The one line logged at startup.</summary>
    public string Describe() =>
        $"listen {Listen}:{Port}, memory limit {MemoryLimitMegabytes} MB, max item size {MaxItemSize} B, " +
        $"connection limit {ConnectionLimit}, persistence {(UseBitcask ? "bitcask" : "stream")} in {Path.GetFullPath(DataDirectory)}, " +
        $"sync {Sync.ToString().ToLowerInvariant()}" + (Sync == SyncMode.Interval ? $" every {SyncInterval.TotalMilliseconds:0} ms" : "") +
        (MetricsListen is null ? "" : $", metrics on http://{MetricsListen}/metrics");
}

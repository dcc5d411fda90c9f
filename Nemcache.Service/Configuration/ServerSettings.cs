using System.Net;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Configuration;

/// <summary>Every setting the server runs with, validated. Defaults are memcached's where memcached has the setting.</summary>
public sealed record ServerSettings
{
    public const int DefaultPort = 11211;

    public int Port { get; init; } = DefaultPort;

    /// <summary>Every address and port to listen on: -l's entries, each on -p's port unless it names its own.</summary>
    public IReadOnlyList<IPEndPoint> ListenEndPoints { get; init; } = [new(IPAddress.Loopback, DefaultPort)];

    /// <summary>The listen addresses as one list, as memcached reports its "inter" setting.</summary>
    public string Listen => string.Join(",", ListenEndPoints.Select(e => e.Port == Port ? e.Address.ToString() : e.ToString()));

    public int ListenBacklog { get; init; } = 1024;
    public long MemoryLimitMegabytes { get; init; } = CacheLimits.DefaultMemoryLimitMegabytes;
    public int ConnectionLimit { get; init; } = 1024;
    public int MaxItemSize { get; init; } = CacheLimits.DefaultMaxItemSize;
    public string DataDirectory { get; init; } = PersistenceOptions.DefaultDataDirectory;
    public bool UseBitcask { get; init; }
    public SyncMode Sync { get; init; } = SyncMode.Interval;
    public TimeSpan SyncInterval { get; init; } = PersistenceOptions.DefaultSyncInterval;

    /// <summary>-v count: 0 logs information and up, 1 debug, 2 and more trace.</summary>
    public int Verbosity { get; init; }

    /// <summary>-P: where the process id is written once the server listens; null for nowhere.</summary>
    public string? PidFile { get; init; }

    /// <summary>-u: the user to become when started as root; null to stay who we are.</summary>
    public string? User { get; init; }

    /// <summary>StreamArchiver: the log size past which it may be compacted (NEMCACHE_STREAM_COMPACT_BYTES).</summary>
    public long StreamCompactBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Bitcask: the size at which the active data file rotates.</summary>
    public long BitcaskMaxFileBytes { get; init; } =
        BitcaskOptions.MaxFileBytesFor(CacheLimits.DefaultMemoryLimitMegabytes * 1024 * 1024);

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
        $"listen {string.Join(", ", ListenEndPoints)}, memory limit {MemoryLimitMegabytes} MB, max item size {MaxItemSize} B, " +
        $"connection limit {ConnectionLimit}, persistence {(UseBitcask ? "bitcask" : "stream")} in {Path.GetFullPath(DataDirectory)}, " +
        $"sync {Sync.ToString().ToLowerInvariant()}" + (Sync == SyncMode.Interval ? $" every {SyncInterval.TotalMilliseconds:0} ms" : "") +
        $", verbosity {Verbosity}" + (PidFile is null ? "" : $", pid file {Path.GetFullPath(PidFile)}") +
        (MetricsListen is null ? "" : $", metrics on http://{MetricsListen}/metrics");
}

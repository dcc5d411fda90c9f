namespace Nemcache.Service.Configuration;

/// <summary>
/// The configuration keys, and the flags and environment variables that set them. A key is the environment variable's
/// name without the NEMCACHE_ prefix, so NEMCACHE_PORT and -p both set PORT.
/// </summary>
public static class SettingNames
{
    public const string EnvironmentPrefix = "NEMCACHE_";

    public const string Port = "PORT";
    public const string Listen = "LISTEN";
    public const string MemoryLimit = "MEMORY_LIMIT_MB";
    public const string ConnectionLimit = "CONN_LIMIT";
    public const string MaxItemSize = "MAX_ITEM_SIZE";
    public const string DataDirectory = "DATA_DIR";
    public const string UseBitcask = "USE_BITCASK";
    public const string Sync = "SYNC";
    public const string SyncInterval = "SYNC_INTERVAL_MS";
    public const string StreamCompactBytes = "STREAM_COMPACT_BYTES";
    public const string BitcaskMaxFileBytes = "BITCASK_MAX_FILE_BYTES";
    public const string BitcaskMergeFragmentation = "BITCASK_MERGE_FRAGMENTATION";
    public const string BitcaskMergeMinDeadBytes = "BITCASK_MERGE_MIN_DEAD_BYTES";
    public const string MetricsListen = "METRICS_LISTEN";

    /// <summary>Every key there is; any other NEMCACHE_ variable or flag is a typo and stops startup.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        Port, Listen, MemoryLimit, ConnectionLimit, MaxItemSize, DataDirectory, UseBitcask, Sync, SyncInterval,
        StreamCompactBytes, BitcaskMaxFileBytes, BitcaskMergeFragmentation, BitcaskMergeMinDeadBytes, MetricsListen,
    };

    /// <summary>memcached-style flags, for the CommandLine provider.</summary>
    public static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>
    {
        ["-p"] = Port, ["--port"] = Port,
        ["-l"] = Listen, ["--listen"] = Listen,
        ["-m"] = MemoryLimit, ["--memory-limit"] = MemoryLimit,
        ["-c"] = ConnectionLimit, ["--conn-limit"] = ConnectionLimit,
        ["-I"] = MaxItemSize, ["--max-item-size"] = MaxItemSize,
        ["--data-dir"] = DataDirectory,
        ["--metrics-listen"] = MetricsListen,
    };

    /// <summary>How a key is named in an error message: its flags and its environment variable.</summary>
    public static string Describe(string key)
    {
        var flags = string.Join("/", Flags.Where(f => f.Value == key).Select(f => f.Key));
        return flags.Length == 0 ? EnvironmentPrefix + key : $"{flags} ({EnvironmentPrefix}{key})";
    }
}

namespace Nemcache.Service.Configuration;

/// <summary>
/// The configuration keys, and the one table of command-line flags: memcached 1.6.18's (its getopt string and long
/// options) plus Nemcache's own. A key is the environment variable's name without the NEMCACHE_ prefix, so
/// NEMCACHE_PORT and -p both set PORT.
/// </summary>
public static class SettingNames
{
    public const string EnvironmentPrefix = "NEMCACHE_";

    public const string Port = "PORT";
    public const string Listen = "LISTEN";
    public const string ListenBacklog = "LISTEN_BACKLOG";
    public const string MemoryLimit = "MEMORY_LIMIT_MB";
    public const string ConnectionLimit = "CONN_LIMIT";
    public const string MaxItemSize = "MAX_ITEM_SIZE";
    public const string Verbosity = "VERBOSITY";
    public const string PidFile = "PID_FILE";
    public const string User = "USER";
    public const string DataDirectory = "DATA_DIR";
    public const string UseBitcask = "USE_BITCASK";
    public const string Sync = "SYNC";
    public const string SyncInterval = "SYNC_INTERVAL_MS";
    public const string StreamCompactBytes = "STREAM_COMPACT_BYTES";
    public const string BitcaskMaxFileBytes = "BITCASK_MAX_FILE_BYTES";
    public const string BitcaskMergeFragmentation = "BITCASK_MERGE_FRAGMENTATION";
    public const string BitcaskMergeMinDeadBytes = "BITCASK_MERGE_MIN_DEAD_BYTES";
    public const string MetricsListen = "METRICS_LISTEN";

    /// <summary>Every key there is; any other NEMCACHE_ variable is a typo and stops startup.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        Port, Listen, ListenBacklog, MemoryLimit, ConnectionLimit, MaxItemSize, Verbosity, PidFile, User,
        DataDirectory, UseBitcask, Sync, SyncInterval, StreamCompactBytes, BitcaskMaxFileBytes,
        BitcaskMergeFragmentation, BitcaskMergeMinDeadBytes, MetricsListen,
    };

    private const string NoSlabs = "Nemcache has no slab classes: items take what they need from -m";
    private const string RuntimeMemory = "the .NET runtime manages Nemcache's memory";
    private const string Unauthenticated = "Nemcache has no authentication, and ignoring this would leave the server open";

    /// <summary>Every flag, in the order -h lists them.</summary>
    public static readonly IReadOnlyList<Flag> Flags =
    [
        new('p', "port", FlagUse.Setting, Port, "<num>", "TCP port to listen on (default: 11211)"),
        new('U', "udp-port", FlagUse.Refused, null, "<num>", "UDP port: only 0 (off) is accepted",
            "Nemcache has no UDP", HonouredValue: "0"),
        new('s', "unix-socket", FlagUse.Refused, null, "<file>", "UNIX socket: not supported",
            "Nemcache listens on TCP only"),
        new('a', "unix-mask", FlagUse.Ignored, null, "<mask>", "UNIX socket mask: ignored",
            "it applies to a UNIX socket (-s), which Nemcache does not have"),
        new('A', "enable-shutdown", FlagUse.Ignored, null, null, "ignored: the shutdown command stays disabled",
            "the shutdown command stays disabled: stop the server with SIGTERM"),
        new('l', "listen", FlagUse.Setting, Listen, "<addr>",
            "addresses to listen on, comma separated, each ADDR, ADDR:PORT, [IPV6] or [IPV6]:PORT; * is every " +
            "address; the flag may repeat (default: 127.0.0.1)"),
        new('d', "daemon", FlagUse.Refused, null, null, "run as a daemon: not supported, use systemd",
            "Nemcache does not fork into the background: run it under systemd (packaging/nemcache.service) or another supervisor"),
        new('r', "enable-coredumps", FlagUse.Ignored, null, null, "ignored",
            "the core file limit is the service manager's (LimitCORE=)"),
        new('u', "user", FlagUse.Setting, User, "<user>", "assume the identity of <user> (only when run as root)"),
        new('m', "memory-limit", FlagUse.Setting, MemoryLimit, "<num>",
            "item memory in megabytes, or with a k, m or g suffix (default: 64)"),
        new('M', "disable-evictions", FlagUse.Ignored, null, null, "ignored: Nemcache always evicts",
            "Nemcache always evicts the least recently used items at the memory limit"),
        new('c', "conn-limit", FlagUse.Setting, ConnectionLimit, "<num>", "max simultaneous connections (default: 1024)"),
        new('k', "lock-memory", FlagUse.Ignored, null, null, "ignored", RuntimeMemory),
        new('v', "verbose", FlagUse.Count, Verbosity, null,
            "verbose: -v logs debug lines, -vv and -vvv trace lines (default: information)"),
        new('h', "help", FlagUse.Help, null, null, "print this help and exit"),
        new('i', "license", FlagUse.Refused, null, null, "not supported", "Nemcache bundles no license text"),
        new('V', "version", FlagUse.Version, null, null, "print Nemcache's version and commit and exit"),
        new('P', "pidfile", FlagUse.Setting, PidFile, "<file>", "write the process id to <file> once listening; removed at shutdown"),
        new('f', "slab-growth-factor", FlagUse.Ignored, null, "<num>", "ignored", NoSlabs),
        new('n', "slab-min-size", FlagUse.Ignored, null, "<bytes>", "ignored", NoSlabs),
        new('L', "enable-largepages", FlagUse.Ignored, null, null, "ignored", RuntimeMemory),
        new('D', null, FlagUse.Ignored, null, "<char>", "ignored", "Nemcache has no per-prefix statistics"),
        new('t', "threads", FlagUse.Ignored, null, "<num>", "ignored",
            "the .NET thread pool sizes itself to the machine's cores"),
        new('R', "max-reqs-per-event", FlagUse.Ignored, null, "<num>", "ignored",
            "Nemcache serves each connection's requests as they arrive, without a per-event limit"),
        new('C', "disable-cas", FlagUse.Ignored, null, null, "ignored", "Nemcache always keeps CAS values"),
        new('b', "listen-backlog", FlagUse.Setting, ListenBacklog, "<num>", "the backlog queue limit (default: 1024)"),
        new('B', "protocol", FlagUse.Ignored, null, "<name>", "only auto (the default) is honoured",
            "every connection's first byte picks text or binary, as -B auto does", HonouredValue: "auto"),
        new('I', "max-item-size", FlagUse.Setting, MaxItemSize, "<num>",
            "largest value, with a k, m or g suffix (default: 1m, min: 1k, max: 1g, at most half of -m)"),
        new('S', "enable-sasl", FlagUse.Refused, null, null, "SASL: not supported", Unauthenticated),
        new('F', "disable-flush-all", FlagUse.Refused, null, null, "not supported", "flush_all cannot be disabled in Nemcache"),
        new('X', "disable-dumping", FlagUse.Refused, null, null, "not supported", "key dumps cannot be disabled in Nemcache"),
        new('W', "disable-watch", FlagUse.Ignored, null, null, "ignored: there is no watch command",
            "Nemcache has no watch command"),
        new('Y', "auth-file", FlagUse.Refused, null, "<file>", "authentication: not supported", Unauthenticated),
        new('e', "memory-file", FlagUse.Ignored, null, "<file>", "ignored: the cache persists in --data-dir",
            "Nemcache keeps its cache across restarts in --data-dir"),
        new('Z', "enable-ssl", FlagUse.Refused, null, null, "TLS: not supported", "Nemcache has no TLS"),
        new('o', "extended", FlagUse.Ignored, null, "<opts>", "memcached's extended options: ignored",
            "Nemcache has none of memcached's extended options"),
        new('N', "napi-ids", FlagUse.Ignored, null, "<num>", "ignored", "Nemcache has no NAPI-based thread selection"),
        new(null, "data-dir", FlagUse.Setting, DataDirectory, "<dir>", "where persistence files go (default: ./nemcache-data)"),
        new(null, "metrics-listen", FlagUse.Setting, MetricsListen, "<addr>",
            "serve Prometheus metrics at http://<addr>/metrics; a port alone means 127.0.0.1 (default: off)"),
    ];

    /// <summary>How a key is named in an error message: its flags and its environment variable.</summary>
    public static string Describe(string key)
    {
        var flag = Flags.FirstOrDefault(f => f.Key == key && f.Use is FlagUse.Setting or FlagUse.Count);
        return flag is null ? EnvironmentPrefix + key : $"{flag.Name} ({EnvironmentPrefix}{key})";
    }

    /// <summary>What -h prints: every flag, then the settings that only an environment variable sets.</summary>
    public static string Usage()
    {
        var lines = new List<string> { BuildInfo.Describe(), "", "Flags (memcached's; flags win over NEMCACHE_ variables):" };
        foreach (var flag in Flags)
        {
            var names = (flag.Short is { } s ? $"-{s}" : "   ") + (flag.Long is { } l ? $"{(flag.Short is null ? " " : ", ")}--{l}" : "");
            var left = flag.ValueName is null ? names : names + (flag.Long is null ? " " : "=") + flag.ValueName;
            var variable = flag.Key is { } key && flag.Use is FlagUse.Setting or FlagUse.Count ? $" [{EnvironmentPrefix}{key}]" : "";
            lines.Add($"  {left,-30} {flag.Help}{variable}");
        }
        lines.Add("");
        lines.Add("Environment only:");
        var flagged = Flags.Where(f => f.Use is FlagUse.Setting or FlagUse.Count).Select(f => f.Key).ToHashSet();
        lines.AddRange(All.Where(key => !flagged.Contains(key)).Select(key => $"  {EnvironmentPrefix}{key}"));
        lines.Add("");
        lines.Add("README.md has every setting's default and meaning.");
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }
}

/// <summary>What a flag does.</summary>
public enum FlagUse
{
    /// <summary>Sets its key (the last one wins; -l adds addresses).</summary>
    Setting,
    /// <summary>Each occurrence adds one to its key (-v, -vv, -vvv).</summary>
    Count,
    Help,
    Version,
    /// <summary>Accepted, and startup says in one line that it is ignored and why.</summary>
    Ignored,
    /// <summary>Stops startup, because ignoring it would surprise: the line says why.</summary>
    Refused,
}

/// <summary>One command-line flag.</summary>
/// <param name="ValueName">The value it takes, for -h; null for a switch.</param>
/// <param name="Reason">Why it is ignored or refused, in the startup line.</param>
/// <param name="HonouredValue">A value that already describes Nemcache (-U 0, -B auto): taken without a word.</param>
public sealed record Flag(char? Short, string? Long, FlagUse Use, string? Key, string? ValueName, string Help,
    string? Reason = null, string? HonouredValue = null)
{
    public bool TakesValue => ValueName is not null;

    /// <summary>-p/--port, or --data-dir.</summary>
    public string Name => string.Join("/", new[] { Short is { } s ? $"-{s}" : null, Long is { } l ? $"--{l}" : null }.OfType<string>());
}

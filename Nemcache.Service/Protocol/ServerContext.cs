using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Protocol;

/// <summary>What every connection's protocol processor works against: the cache, its persistence, the settings and
/// the server's counters.</summary>
public sealed class ServerContext(MemCache cache, ICachePersistence? persistence, ServerSettings settings, ServerStatistics statistics)
{
    /// <summary>The version we answer with: the memcached release whose behaviour we follow, then our own.</summary>
    public static string Version => BuildInfo.ProtocolVersion;

    public MemCache Cache { get; } = cache;
    public ICachePersistence? Persistence { get; } = persistence;
    public ServerSettings Settings { get; } = settings;
    public ServerStatistics Statistics { get; } = statistics;

    /// <summary>-v at startup, then set by `verbosity`; kept and reported like memcached's, which only changes its own
    /// logging.</summary>
    public int Verbosity { get; set; } = settings.Verbosity;
}

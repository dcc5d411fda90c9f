using Nemcache.Tests.Support;
using System.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Persistence;

/// <summary>One item as a client sees it: value, flags and absolute expiry. CAS is left out: it is new after a restart.</summary>
public readonly record struct VisibleItem(string Value, uint Flags, long ExpiresAt);

/// <summary>
/// A cache with a persistence plugin in a temporary data directory, driven the way the server drives it: Restore, then
/// Subscribe, then operations with a commit after each, then DisposeAsync at shutdown. Restart does all of that again
/// with a new cache and a new plugin on the same directory, as a new process would.
/// </summary>
public sealed class PersistedCache : IAsyncDisposable
{
    private readonly PersistenceFactory _factory;
    private readonly CacheOptions _cacheOptions;
    private bool _running;

    public PersistedCache(PersistenceFactory factory, SyncMode sync = SyncMode.Interval, CacheOptions? cacheOptions = null,
        string? dataDirectory = null, TimeSpan? syncInterval = null)
    {
        _factory = factory;
        _cacheOptions = cacheOptions ?? new CacheOptions();
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "nemcache-test-" + Guid.NewGuid().ToString("N"));
        Options = new PersistenceOptions
        {
            DataDirectory = DataDirectory,
            Sync = sync,
            SyncInterval = syncInterval ?? PersistenceOptions.DefaultSyncInterval,
        };
    }

    public string DataDirectory { get; }
    public PersistenceOptions Options { get; }
    public ManualTimeProvider Time { get; } = new();
    public MemCache Cache { get; private set; } = null!;
    public ICachePersistence Plugin { get; private set; } = null!;
    public RestoreSummary LastRestore { get; private set; } = null!;

    /// <summary>Starts a new cache and plugin on the data directory, as the server does before it listens.</summary>
    public PersistedCache Start()
    {
        Cache = new MemCache(_cacheOptions, Time);
        Plugin = _factory.Create(Options, Time);
        LastRestore = Plugin.Restore(Cache);
        Cache.Subscribe(Plugin);
        _running = true;
        return this;
    }

    public async Task StopAsync()
    {
        await Plugin.CommitAsync();
        await Plugin.DisposeAsync();
        _running = false;
    }

    /// <summary>A clean shutdown, <paramref name="downSeconds"/> of downtime, and a start.</summary>
    public async Task RestartAsync(long downSeconds = 0)
    {
        await StopAsync();
        Time.AdvanceSeconds(downSeconds);
        Start();
    }

    public Task SetAsync(string key, string value, uint flags = 0, long exptime = 0) =>
        CommittedAsync(Cache.Store(StoreMode.Set, Key(key), flags, exptime, Encoding.UTF8.GetBytes(value)));

    /// <summary>Commits, as a connection does before it replies, and passes the command's result on.</summary>
    public async Task<T> CommittedAsync<T>(T result)
    {
        await Plugin.CommitAsync();
        return result;
    }

    public VisibleItem this[string key] => VisibleState(Cache)[key];

    /// <summary>Everything a client could read: every live key with its value, flags and expiry.</summary>
    public static Dictionary<string, VisibleItem> VisibleState(MemCache cache)
    {
        var state = new Dictionary<string, VisibleItem>();
        foreach (var item in cache.SnapshotItems())
        {
            state.Add(Encoding.UTF8.GetString(item.Key), new VisibleItem(Encoding.UTF8.GetString(item.Value), item.Flags, item.ExpiresAt));
        }
        return state;
    }

    /// <summary>What a restart after <paramref name="downSeconds"/> must show, given the state before it: the same
    /// items less those that expire meanwhile, or nothing when a pending flush comes meanwhile.</summary>
    public Dictionary<string, VisibleItem> ExpectedAfterDowntime(long downSeconds)
    {
        var after = Time.UnixSeconds + downSeconds;
        var expected = new Dictionary<string, VisibleItem>();
        if (Cache.PendingFlushAt is { } flushAt && flushAt <= after)
        {
            return expected;
        }
        foreach (var (key, item) in VisibleState(Cache))
        {
            if (!ExpiryClock.HasExpired(item.ExpiresAt, after))
            {
                expected.Add(key, item);
            }
        }
        return expected;
    }

    public static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            await Plugin.DisposeAsync();
        }
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}

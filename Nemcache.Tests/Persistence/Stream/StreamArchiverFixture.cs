using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>
/// A StreamArchiver-backed cache, new for each test in a temporary data directory, with the archivers' log lines kept.
/// </summary>
public abstract class StreamArchiverFixture
{
    private protected StreamArchivers Archivers { get; private set; } = null!;

    protected PersistedCache Server { get; private set; } = null!;

    protected string LogPath => StreamArchivers.LogPath(Server);

    [SetUp]
    public void StartServer()
    {
        Archivers = new StreamArchivers();
        Server = Archivers.NewCache().Start();
    }

    [TearDown]
    public async Task RemoveServer() => await Server.DisposeAsync();

    /// <summary>Throws the test's server away and starts one with other settings on a new data directory.</summary>
    protected async Task ReplaceServerAsync(SyncMode sync = SyncMode.Interval, TimeSpan? syncInterval = null,
        StreamArchiverOptions? options = null, Storage.Cache.CacheOptions? cacheOptions = null)
    {
        await Server.DisposeAsync();
        Archivers = new StreamArchivers { Options = options ?? new StreamArchiverOptions() };
        Server = new PersistedCache(Archivers.Factory, sync, cacheOptions, syncInterval: syncInterval).Start();
    }
}

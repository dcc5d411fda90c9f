namespace Nemcache.Storage.Persistence;

/// <summary>What every persistence plugin is told: where its files go and what its durability promise is.</summary>
public sealed record PersistenceOptions
{
    public const string DefaultDataDirectory = "./nemcache-data";
    public static readonly TimeSpan DefaultSyncInterval = TimeSpan.FromMilliseconds(1000);

    public string DataDirectory { get; init; } = DefaultDataDirectory;
    public SyncMode Sync { get; init; } = SyncMode.Interval;
    public TimeSpan SyncInterval { get; init; } = DefaultSyncInterval;
}

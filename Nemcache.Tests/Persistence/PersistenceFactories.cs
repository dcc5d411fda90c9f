using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tests.Persistence;

/// <summary>Makes one persistence plugin for a data directory and sync mode.</summary>
public sealed record PersistenceFactory(string Name, Func<PersistenceOptions, ICachePersistence> Create)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every plugin the contract suite runs against. A new plugin joins the suite by adding one entry here.
/// </summary>
public static class PersistenceFactories
{
    public static IEnumerable<PersistenceFactory> All()
    {
        yield return new PersistenceFactory("stream",
            options => new StreamArchiver(options, new StreamArchiverOptions(), NullLogger<StreamArchiver>.Instance));
    }
}

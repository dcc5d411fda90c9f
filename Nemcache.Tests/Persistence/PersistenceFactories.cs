using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tests.Persistence;

/// <summary>Makes one persistence plugin for a data directory and sync mode, on the cache's clock.</summary>
public sealed record PersistenceFactory(string Name, Func<PersistenceOptions, TimeProvider, ICachePersistence> Create)
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
            (options, _) => new StreamArchiver(options, new StreamArchiverOptions(), NullLogger<StreamArchiver>.Instance));
        // Small files, so that the suite's sequences rotate and hint files come into play.
        yield return new PersistenceFactory("bitcask",
            (options, time) => new BitcaskStore(options, new BitcaskOptions { MaxFileBytes = 16 * 1024 },
                NullLogger<BitcaskStore>.Instance, time));
    }
}

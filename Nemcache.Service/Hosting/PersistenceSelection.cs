using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Service.Hosting;

/// <summary>
/// Builds the persistence plugin the settings choose: BitcaskStore when NEMCACHE_USE_BITCASK=1 (importing a stream log
/// found in the data directory the first time), StreamArchiver otherwise.
/// </summary>
internal static class PersistenceSelection
{
    public static ICachePersistence Create(ServerSettings settings, ILoggerFactory loggers)
    {
        var persistence = settings.ToPersistenceOptions();
        if (!settings.UseBitcask)
        {
            return new StreamArchiver(persistence, new StreamArchiverOptions { CompactBytes = settings.StreamCompactBytes },
                loggers.CreateLogger<StreamArchiver>());
        }

        var options = new BitcaskOptions
        {
            MaxFileBytes = settings.BitcaskMaxFileBytes,
            MergeFragmentation = settings.BitcaskMergeFragmentation,
            MergeMinDeadBytes = settings.BitcaskMergeMinDeadBytes,
        };
        var logger = loggers.CreateLogger<BitcaskStore>();
        return new BitcaskStore(persistence, options, logger, importer: new StreamLogImporter(logger));
    }
}

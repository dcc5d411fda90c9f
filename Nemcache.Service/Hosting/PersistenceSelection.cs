using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Service.Hosting;

/// <summary>Builds the persistence plugin the settings choose: StreamArchiver unless NEMCACHE_USE_BITCASK=1.</summary>
internal static class PersistenceSelection
{
    public static ICachePersistence Create(ServerSettings settings, ILoggerFactory loggers)
    {
        var persistence = settings.ToPersistenceOptions();
        if (settings.UseBitcask)
        {
            throw new StartupException("NEMCACHE_USE_BITCASK=1: the Bitcask plugin is not part of this build yet");
        }
        return new StreamArchiver(persistence, new StreamArchiverOptions { CompactBytes = settings.StreamCompactBytes },
            loggers.CreateLogger<StreamArchiver>());
    }
}

using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Service.Hosting;

/// <summary>
/// Builds the persistence plugin the settings choose: BitcaskStore when NEMCACHE_USE_BITCASK=1, StreamArchiver
/// otherwise; and the <see cref="PluginSwitch"/> that restores it, with the other plugin as the data directory's
/// possible previous owner.
/// </summary>
internal static class PersistenceSelection
{
    public static ICachePersistence Create(ServerSettings settings, ILoggerFactory loggers) =>
        settings.UseBitcask ? CreateBitcask(settings, loggers) : CreateStream(settings, loggers);

    public static PluginSwitch CreateSwitch(ServerSettings settings, ICachePersistence selected, ILoggerFactory loggers)
    {
        ICachePersistence other = settings.UseBitcask ? CreateStream(settings, loggers) : CreateBitcask(settings, loggers);
        return new PluginSwitch(settings.DataDirectory, selected, [other], loggers.CreateLogger<PluginSwitch>());
    }

    private static StreamArchiver CreateStream(ServerSettings settings, ILoggerFactory loggers) =>
        new(settings.ToPersistenceOptions(), new StreamArchiverOptions { CompactBytes = settings.StreamCompactBytes },
            loggers.CreateLogger<StreamArchiver>());

    private static BitcaskStore CreateBitcask(ServerSettings settings, ILoggerFactory loggers)
    {
        var options = new BitcaskOptions
        {
            MaxFileBytes = settings.BitcaskMaxFileBytes,
            MergeFragmentation = settings.BitcaskMergeFragmentation,
            MergeMinDeadBytes = settings.BitcaskMergeMinDeadBytes,
        };
        return new BitcaskStore(settings.ToPersistenceOptions(), options, loggers.CreateLogger<BitcaskStore>());
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service.Protocol;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Hosting;

/// <summary>
/// Drives the persistence plugin through the host's lifetime. Registered before the listener, so it restores the cache
/// before the first connection is accepted, and stops after the listener, so the last replies' records are flushed
/// and fsynced before the process exits. The restore goes through <see cref="PluginSwitch"/>, which first imports the
/// cache from another plugin when that one owns the data directory.
/// </summary>
internal sealed class PersistenceService(ServerContext context, PluginSwitch plugins, ILogger<PersistenceService> logger)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (context.Persistence is not { } persistence)
        {
            logger.LogWarning("No persistence plugin: the cache will not survive a restart");
            return Task.CompletedTask;
        }
        RestoreSummary summary;
        using (NoGcRegion.ForRestoreFrom(context.Settings.DataDirectory, context.Cache.Options.MemoryLimitBytes))
        {
            summary = plugins.Restore(context.Cache);
        }
        logger.LogInformation("{Plugin}: {Details}", persistence.Name, summary.Details);
        context.Cache.Subscribe(persistence);
        context.Cache.RefuseChangesWhile(() => persistence.Failure is not null);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (context.Persistence is { } persistence)
        {
            await persistence.DisposeAsync();
            logger.LogInformation("{Plugin}: flushed and closed", persistence.Name);
        }
    }
}

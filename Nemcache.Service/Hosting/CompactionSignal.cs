using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Hosting;

/// <summary>
/// The operator's compaction trigger: SIGUSR1 (`kill -USR1 PID`) asks the persistence plugin to reclaim dead space now,
/// by compacting the stream log or merging Bitcask's files, while the server keeps serving.
/// </summary>
internal sealed class CompactionSignal(ICachePersistence persistence, ILogger<CompactionSignal> logger) : IHostedService, IDisposable
{
    /// <summary>SIGUSR1 on Linux; .NET names only the portable signals, and takes others by number.</summary>
    private const int SigUsr1 = 10;

    private PosixSignalRegistration? _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsLinux())
        {
            _registration = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                _ = CompactAsync();
            });
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _registration = null;
    }

    private async Task CompactAsync()
    {
        logger.LogInformation("SIGUSR1: {Plugin} compaction requested", persistence.Name);
        try
        {
            await persistence.CompactAsync();
            logger.LogInformation("{Plugin} compaction finished", persistence.Name);
        }
        catch (Exception ex)
        {
            logger.LogError("{Plugin} compaction failed: {Message}", persistence.Name, ex.Message);
        }
    }
}

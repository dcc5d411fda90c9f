using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Nemcache.Service.Hosting;

/// <summary>
/// SIGHUP is ignored, as memcached ignores it. Its default action would end the process at once, without the graceful
/// shutdown's flush; and there is nothing to reopen, since Nemcache logs to stdout, which the service manager owns.
/// </summary>
internal sealed class HangupSignal(ILogger<HangupSignal> logger) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            logger.LogInformation("SIGHUP: ignored (SIGTERM stops the server, SIGUSR1 compacts)");
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _registration?.Dispose();
        _registration = null;
    }
}

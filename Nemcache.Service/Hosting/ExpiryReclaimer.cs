using Microsoft.Extensions.Hosting;
using Nemcache.Storage.Cache;

namespace Nemcache.Service.Hosting;

/// <summary>
/// Sweeps expired items out of the cache now and then, like memcached's LRU crawler, so that their memory is
/// reclaimed even when nobody asks for them again.
/// </summary>
internal sealed class ExpiryReclaimer(MemCache cache) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            cache.ReclaimExpired();
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Persistence;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Nemcache.Service.Monitoring;

/// <summary>
/// The optional Prometheus endpoint: serves the "Nemcache" meter's instruments at http://ADDRESS:PORT/metrics with
/// OpenTelemetry's Prometheus exporter on its stand-alone HttpListener (no ASP.NET Core). Off unless
/// NEMCACHE_METRICS_LISTEN is set; a port alone listens on the loopback address.
/// </summary>
internal sealed class PrometheusEndpoint(ServerSettings settings, ILogger<PrometheusEndpoint> logger) : IHostedService
{
    /// <summary>Fsync latency buckets, in seconds: from a flush the disk's cache absorbs to a stalled disk.</summary>
    private static readonly double[] FsyncBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private MeterProvider? _provider;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.MetricsListen is not { } endPoint)
        {
            return Task.CompletedTask;
        }
        try
        {
            _provider = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(resource => resource.AddService("nemcache"))
                .AddMeter(PersistenceMeter.MeterName)
                .AddView(PersistenceMeter.FsyncDuration.Name, new ExplicitBucketHistogramConfiguration { Boundaries = FsyncBuckets })
                .AddPrometheusHttpListener(options =>
                {
                    options.Host = HostName(endPoint.Address);
                    options.Port = endPoint.Port;
                })
                .Build();
        }
        catch (Exception ex) when (ex is HttpListenerException or SocketException or InvalidOperationException)
        {
            throw new StartupException($"cannot serve metrics on {endPoint} ({SettingNames.Describe(SettingNames.MetricsListen)}): {ex.InnerException?.Message ?? ex.Message}");
        }
        logger.LogInformation("Serving metrics on http://{EndPoint}/metrics", endPoint);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _provider?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>HttpListener's host part: "+" for every address, brackets around an IPv6 one.</summary>
    private static string HostName(IPAddress address) =>
        address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? "+"
        : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]"
        : address.ToString();
}

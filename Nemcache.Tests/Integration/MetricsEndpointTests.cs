using System.Net.Http;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// The Prometheus endpoint of the real server process, scraped over HTTP: the cache's figures and persistence health
/// under the same names for both plugins.
/// </summary>
[TestFixture]
public sealed class MetricsEndpointTests
{
    private static readonly string[] PersistenceSeries =
    [
        "nemcache_persistence_failing{", "nemcache_persistence_write_failures_total{", "nemcache_persistence_fsyncs_total{",
        "nemcache_persistence_compactions_total{", "nemcache_persistence_restore_duration_seconds{",
        "nemcache_persistence_restore_items{", "nemcache_persistence_disk_live_bytes{", "nemcache_persistence_disk_dead_bytes{",
        "nemcache_persistence_fsync_duration_seconds_bucket{",
    ];

    [TestCase("stream")]
    [TestCase("bitcask")]
    public async Task A_scrape_reports_the_cache_and_persistence_health(string plugin)
    {
        var metricsPort = ServerProcess.FreePort();
        var environment = new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = plugin == "bitcask" ? "1" : "0", ["NEMCACHE_SYNC"] = "always" };
        await using var server = await ServerProcess.StartAsync(environment: environment, arguments: ["--metrics-listen", metricsPort.ToString()]);
        using (var client = await server.ConnectAsync())
        {
            await client.ExpectAsync("set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a\r\nget zz\r\n", "STORED\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nEND\r\n");
        }

        using var http = new HttpClient();
        var scrape = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
        var samples = scrape.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        double Sample(string prefix) => double.Parse(samples.Single(s => s.StartsWith(prefix)).Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);

        Assert.That(Sample("nemcache_cache_items{"), Is.EqualTo(2), scrape);
        Assert.That(Sample("nemcache_cache_limit_bytes{"), Is.EqualTo(64 * 1024 * 1024));
        Assert.That(Sample("nemcache_commands_total{otel_scope_name=\"Nemcache\",command=\"get\",result=\"hit\"}"), Is.EqualTo(1));
        Assert.That(Sample("nemcache_commands_total{otel_scope_name=\"Nemcache\",command=\"get\",result=\"miss\"}"), Is.EqualTo(1));
        foreach (var series in PersistenceSeries)
        {
            Assert.That(samples.Any(s => s.StartsWith(series)), series + " in\n" + scrape);
        }
        Assert.That(samples.Where(s => s.StartsWith("nemcache_persistence_fsyncs_total{")), Has.All.Contain($"plugin=\"{plugin}\""));
        Assert.That(Sample("nemcache_persistence_failing{"), Is.EqualTo(0));
        Assert.That(Sample("nemcache_persistence_fsync_duration_seconds_count{"), Is.GreaterThanOrEqualTo(1), "sync always fsyncs each set");
        Assert.That(Sample("nemcache_persistence_disk_live_bytes{"), Is.GreaterThan(0));
    }

    [Test]
    public async Task The_endpoint_listens_on_loopback_when_given_a_port_alone()
    {
        var metricsPort = ServerProcess.FreePort();
        await using var server = await ServerProcess.StartAsync(arguments: ["--metrics-listen", metricsPort.ToString()]);
        using var client = await server.ConnectAsync();
        await client.SendAsync("stats settings\r\n");
        var settings = new List<string>();
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            settings.Add(line);
        }
        Assert.That(settings, Does.Contain($"STAT metrics_listen 127.0.0.1:{metricsPort}"));
    }
}

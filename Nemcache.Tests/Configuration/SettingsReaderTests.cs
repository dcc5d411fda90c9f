using System.Net;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Configuration;

[TestFixture]
public sealed class SettingsReaderTests
{
    private static ServerSettings Read(Dictionary<string, string?>? environment = null, params string[] args) =>
        SettingsReader.Read(args, environment ?? []);

    [Test]
    public void Defaults_are_memcacheds()
    {
        var settings = Read();
        Assert.That(settings.Port, Is.EqualTo(11211));
        Assert.That(settings.Listen, Is.EqualTo(IPAddress.Loopback));
        Assert.That(settings.MemoryLimitMegabytes, Is.EqualTo(64));
        Assert.That(settings.ConnectionLimit, Is.EqualTo(1024));
        Assert.That(settings.MaxItemSize, Is.EqualTo(1024 * 1024));
        Assert.That(settings.DataDirectory, Is.EqualTo("./nemcache-data"));
        Assert.That(settings.UseBitcask, Is.False);
        Assert.That(settings.Sync, Is.EqualTo(SyncMode.Interval));
        Assert.That(settings.SyncInterval, Is.EqualTo(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public void Flags_and_environment_set_every_setting_and_flags_win()
    {
        var environment = new Dictionary<string, string?>
        {
            ["NEMCACHE_PORT"] = "1000", ["NEMCACHE_LISTEN"] = "0.0.0.0", ["NEMCACHE_MEMORY_LIMIT_MB"] = "128",
            ["NEMCACHE_CONN_LIMIT"] = "10", ["NEMCACHE_MAX_ITEM_SIZE"] = "512k", ["NEMCACHE_DATA_DIR"] = "/tmp/x",
            ["NEMCACHE_USE_BITCASK"] = "1", ["NEMCACHE_SYNC"] = "always", ["NEMCACHE_SYNC_INTERVAL_MS"] = "250",
            ["OTHER_PORT"] = "1",
        };
        var fromEnvironment = Read(environment);
        Assert.That(fromEnvironment, Is.EqualTo(new ServerSettings
        {
            Port = 1000, Listen = IPAddress.Any, MemoryLimitMegabytes = 128, ConnectionLimit = 10, MaxItemSize = 512 * 1024,
            DataDirectory = "/tmp/x", UseBitcask = true, Sync = SyncMode.Always, SyncInterval = TimeSpan.FromMilliseconds(250),
        }));

        var fromFlags = Read(environment, "-p", "2000", "-l", "127.0.0.2", "-m", "256", "-c", "20", "-I", "2m", "--data-dir", "/tmp/y");
        Assert.That((fromFlags.Port, fromFlags.Listen.ToString(), fromFlags.MemoryLimitMegabytes, fromFlags.ConnectionLimit,
                fromFlags.MaxItemSize, fromFlags.DataDirectory),
            Is.EqualTo((2000, "127.0.0.2", 256L, 20, 2 * 1024 * 1024, "/tmp/y")));
        var longFlags = Read(null, "--port", "3000", "--memory-limit", "8", "--conn-limit", "5", "--max-item-size", "4096", "--listen", "::1");
        Assert.That((longFlags.Port, longFlags.MemoryLimitMegabytes, longFlags.ConnectionLimit, longFlags.MaxItemSize, longFlags.Listen),
            Is.EqualTo((3000, 8L, 5, 4096, IPAddress.IPv6Loopback)));
    }

    [TestCase("-I", "1m", "-m", "1", "half the memory limit")]
    [TestCase("-I", "abc", "-m", "64", "-I/--max-item-size")]
    [TestCase("-p", "-1", "-m", "64", "-p/--port")]
    public void Invalid_values_name_the_setting(string flag, string value, string otherFlag, string otherValue, string message)
    {
        var error = Assert.Throws<SettingsException>(() => Read(null, flag, value, otherFlag, otherValue));
        Assert.That(error!.Message, Does.Contain(message));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [TestCase(null, null)]
    [TestCase("9150", "127.0.0.1:9150")]
    [TestCase("0.0.0.0:9150", "0.0.0.0:9150")]
    [TestCase("localhost:9150", "127.0.0.1:9150")]
    [TestCase("[::1]:9150", "[::1]:9150")]
    public void Metrics_endpoint_is_off_by_default_and_on_loopback_for_a_port_alone(string? value, string? endPoint)
    {
        var settings = Read(new Dictionary<string, string?> { ["NEMCACHE_METRICS_LISTEN"] = value });
        Assert.That(settings.MetricsListen?.ToString(), Is.EqualTo(endPoint));
        Assert.That(Read(null, "--metrics-listen", "9151").MetricsListen?.ToString(), Is.EqualTo("127.0.0.1:9151"));
    }

    [TestCase("0")]
    [TestCase("65536")]
    [TestCase("127.0.0.1")]
    [TestCase("nowhere:80")]
    public void A_bad_metrics_endpoint_names_the_setting(string value)
    {
        var error = Assert.Throws<SettingsException>(() => Read(null, "--metrics-listen", value));
        Assert.That(error!.Message, Does.Contain("--metrics-listen (NEMCACHE_METRICS_LISTEN)"));
    }
}

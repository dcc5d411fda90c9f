using System.Diagnostics.Metrics;
using Moq;
using Nemcache.Service.Configuration;
using Nemcache.Service.Monitoring;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Monitoring;

/// <summary>The instruments read each plugin's own figures under one name, and say when persistence is failing.</summary>
[TestFixture]
public sealed class ServerMetricsTests
{
    [Test]
    public void Persistence_instruments_map_the_plugins_figures_and_its_failure()
    {
        var persistence = new Mock<ICachePersistence>();
        persistence.SetupGet(p => p.Name).Returns("bitcask");
        persistence.SetupGet(p => p.Failure).Returns("disk full");
        persistence.Setup(p => p.GetStats()).Returns(() =>
        [
            KeyValuePair.Create("bitcask_live_bytes", "1000"), KeyValuePair.Create("bitcask_dead_bytes", "250"),
            KeyValuePair.Create("bitcask_recovery_ms", "1500"), KeyValuePair.Create("bitcask_merges", "3"),
            KeyValuePair.Create("bitcask_write_failures", "2"),
        ]);
        var settings = new ServerSettings();
        var cache = new MemCache(settings.ToCacheOptions());
        cache.Store(StoreMode.Set, "k"u8, 0, 0, [1, 2, 3]);
        using var metrics = new ServerMetrics(new ServerContext(cache, persistence.Object, settings, new ServerStatistics()));

        var seen = Collect();
        Assert.That(seen["nemcache.persistence.failing"], Is.EqualTo((1.0, "bitcask")));
        Assert.That(seen["nemcache.persistence.disk.live"], Is.EqualTo((1000.0, "bitcask")));
        Assert.That(seen["nemcache.persistence.disk.dead"], Is.EqualTo((250.0, "bitcask")));
        Assert.That(seen["nemcache.persistence.restore.duration"], Is.EqualTo((1.5, "bitcask")));
        Assert.That(seen["nemcache.persistence.compactions"], Is.EqualTo((3.0, "bitcask")));
        Assert.That(seen["nemcache.persistence.write_failures"], Is.EqualTo((2.0, "bitcask")));
        Assert.That(seen["nemcache.persistence.fsyncs"], Is.EqualTo((0.0, "bitcask")), "a figure not reported yet reads 0");
        Assert.That(seen["nemcache.cache.items"].Value, Is.EqualTo(1));
    }

    /// <summary>One collection of the Nemcache meter's observable instruments: name → (value, plugin tag).</summary>
    private static Dictionary<string, (double Value, string? Plugin)> Collect()
    {
        var seen = new Dictionary<string, (double, string?)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == PersistenceMeter.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? plugin = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "plugin") plugin = tag.Value as string;
            }
            seen[instrument.Name] = (value, plugin);
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }
}

using System.Diagnostics.Metrics;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// The server's meter (System.Diagnostics.Metrics), named "Nemcache", and the instruments persistence records into as
/// things happen. Every other figure is observed from the statistics at collection time (Nemcache.Service/Monitoring).
/// </summary>
public static class PersistenceMeter
{
    /// <summary>What a metrics listener subscribes to; the Service's observed instruments use it too.</summary>
    public const string MeterName = "Nemcache";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>How long each group-commit fsync took (both plugins sync through <see cref="GroupSync"/>).</summary>
    public static readonly Histogram<double> FsyncDuration = Meter.CreateHistogram<double>(
        "nemcache.persistence.fsync.duration", unit: "s", description: "Duration of each fsync that makes written records durable");
}

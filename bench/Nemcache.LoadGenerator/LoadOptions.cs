using System.Globalization;

namespace Nemcache.LoadGenerator;

/// <summary>What one run does; every option is <c>--name value</c> on the command line.</summary>
internal sealed record LoadOptions
{
    public int Port { get; init; } = 11211;
    /// <summary>Requests per second over all connections (open loop); 0 runs closed loop, to find the peak.</summary>
    public double Rate { get; init; }
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Replies to requests scheduled in this first stretch are not recorded.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);
    public int Connections { get; init; } = 32;
    /// <summary>Share of requests that are gets; the rest are sets.</summary>
    public double GetShare { get; init; } = 0.9;
    public int ValueSize { get; init; } = 100;
    public int Keys { get; init; } = 100_000;
    /// <summary>Sets every key once before the run, so that gets hit.</summary>
    public bool Preload { get; init; } = true;
    /// <summary>Where to write the whole percentile distribution (HdrHistogram's text form), if anywhere.</summary>
    public string? HistogramFile { get; init; }
    /// <summary>Where to write the run second by second (<see cref="LatencyTimeline"/>), if anywhere.</summary>
    public string? TimelineFile { get; init; }
    /// <summary>A label for the CSV line (server name, mode).</summary>
    public string Label { get; init; } = "";

    public const string Usage =
        "usage: Nemcache.LoadGenerator [--port N] [--rate R (0 = closed loop)] [--duration S] [--warmup S] " +
        "[--connections N] [--get-share F] [--value-size B] [--keys N] [--preload true|false] [--histogram FILE] [--timeline FILE] [--label L]";

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{args[i]} needs a value");
            }
            var value = args[i + 1];
            options = args[i] switch
            {
                "--port" => options with { Port = int.Parse(value, CultureInfo.InvariantCulture) },
                "--rate" => options with { Rate = double.Parse(value, CultureInfo.InvariantCulture) },
                "--duration" => options with { Duration = Seconds(value) },
                "--warmup" => options with { Warmup = Seconds(value) },
                "--connections" => options with { Connections = int.Parse(value, CultureInfo.InvariantCulture) },
                "--get-share" => options with { GetShare = double.Parse(value, CultureInfo.InvariantCulture) },
                "--value-size" => options with { ValueSize = int.Parse(value, CultureInfo.InvariantCulture) },
                "--keys" => options with { Keys = int.Parse(value, CultureInfo.InvariantCulture) },
                "--preload" => options with { Preload = bool.Parse(value) },
                "--histogram" => options with { HistogramFile = value },
                "--timeline" => options with { TimelineFile = value },
                "--label" => options with { Label = value },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        if (options.Connections < 1 || options.Keys < 1 || options.ValueSize < 1 || options.Rate < 0 ||
            options.GetShare is < 0 or > 1 || options.Warmup >= options.Duration)
        {
            throw new ArgumentException("connections, keys and value size are at least 1, rate at least 0, " +
                "get share between 0 and 1, and the warm-up shorter than the duration");
        }
        return options;
    }

    private static TimeSpan Seconds(string value) => TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture));
}

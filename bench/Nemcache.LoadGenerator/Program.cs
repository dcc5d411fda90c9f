using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Nemcache.LoadGenerator;

// Drives a memcached-protocol server and prints one CSV line (LoadRun.CsvHeader). Open loop (--rate R): requests are
// sent on a fixed schedule whatever the replies do, so a slow reply delays nothing and is measured in full. Closed loop
// (--rate 0): each connection sends its next request when the last reply arrives, which finds the peak rate.
if (args is ["--csv-header"])
{
    Console.WriteLine(LoadRun.CsvHeader);
    return 0;
}
LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"load generator: {ex.Message}");
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}

var requests = new Requests(options.Keys, options.ValueSize);
if (options.Preload)
{
    await LoadRun.PreloadAsync(options, requests);
}
var result = await new LoadRun(options, requests).RunAsync();
if (options.HistogramFile is { } file)
{
    using var writer = new StreamWriter(file);
    result.Histogram.OutputPercentileDistribution(writer, outputValueUnitScalingRatio: 1.0);
}
Console.WriteLine(result.ToCsv(options));
return 0;

namespace Nemcache.LoadGenerator
{
    internal sealed record LoadResult(LongHistogram Histogram, double AchievedRate, long Errors, long Unanswered)
    {
        public string ToCsv(LoadOptions options) => string.Join(',',
            options.Label, options.Rate == 0 ? "closed" : "open", options.Rate.ToString("F0", CultureInfo.InvariantCulture),
            AchievedRate.ToString("F0", CultureInfo.InvariantCulture), Histogram.TotalCount, Errors, Unanswered,
            Percentile(50), Percentile(99), Percentile(99.9), Histogram.TotalCount == 0 ? 0 : Histogram.GetMaxValue());

        // HdrHistogram throws on an empty histogram; a run that recorded nothing reports zeros.
        private long Percentile(double percentile) =>
            Histogram.TotalCount == 0 ? 0 : Histogram.GetValueAtPercentile(percentile);
    }

    internal sealed class LoadRun(LoadOptions options, Requests requests)
    {
        public const string CsvHeader = "label,loop,target_rate,achieved_rate,recorded,errors,unanswered,p50_us,p99_us,p999_us,max_us";

        /// <summary>Longest latency the histograms hold: a minute, in microseconds.</summary>
        private const long HighestTrackableMicroseconds = 60_000_000;

        /// <summary>How long replies still in flight at the end may take before they count as unanswered.</summary>
        private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

        private volatile bool _stopping;

        public static async Task PreloadAsync(LoadOptions options, Requests requests)
        {
            using var connection = await LoadConnection.OpenAsync(options.Port, long.MaxValue, HighestTrackableMicroseconds);
            using var stop = new CancellationTokenSource();
            var receiving = connection.ReceiveAsync(stop.Token);
            for (var key = 0; key < requests.Keys; key++)
            {
                connection.Send(requests.Set(key), isGet: false, Stopwatch.GetTimestamp());
                while (connection.Outstanding > 256)
                {
                    await Task.Yield();
                }
            }
            while (connection.Outstanding > 0 && !receiving.IsCompleted)
            {
                await Task.Delay(1);
            }
            stop.Cancel();
            await receiving;
        }

        public async Task<LoadResult> RunAsync()
        {
            var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            var recordFrom = start + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
            var end = start + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
            var connections = new LoadConnection[options.Connections];
            for (var i = 0; i < connections.Length; i++)
            {
                connections[i] = await LoadConnection.OpenAsync(options.Port, recordFrom, HighestTrackableMicroseconds);
            }
            var timeline = options.TimelineFile is null
                ? null
                : new LatencyTimeline(start, options.Duration, HighestTrackableMicroseconds);
            foreach (var connection in connections)
            {
                connection.Timeline = timeline;
            }
            using var stop = new CancellationTokenSource();
            var receivers = connections.Select(c => Task.Run(() => c.ReceiveAsync(stop.Token))).ToArray();
            try
            {
                if (options.Rate > 0)
                {
                    await Task.Factory.StartNew(() => SendOnSchedule(connections, start, end), TaskCreationOptions.LongRunning);
                }
                else
                {
                    await RunClosedLoop(connections, start, end);
                }
                var drainUntil = DateTime.UtcNow + DrainTimeout;
                while (connections.Any(c => c.Outstanding > 0) && DateTime.UtcNow < drainUntil)
                {
                    await Task.Delay(10);
                }
                stop.Cancel();
                await Task.WhenAll(receivers);
                if (options.TimelineFile is { } file)
                {
                    timeline!.Write(file);
                }
                var histogram = new LongHistogram(HighestTrackableMicroseconds, 3);
                foreach (var connection in connections)
                {
                    histogram.Add(connection.Histogram);
                }
                var measuredSeconds = (end - recordFrom) / (double)Stopwatch.Frequency;
                return new LoadResult(histogram, histogram.TotalCount / measuredSeconds,
                    connections.Sum(c => c.Errors), connections.Sum(c => (long)c.Outstanding));
            }
            finally
            {
                foreach (var connection in connections)
                {
                    connection.Dispose();
                }
            }
        }

        /// <summary>Request j is due at start + j / rate, spread round-robin over the connections.</summary>
        private void SendOnSchedule(LoadConnection[] connections, long start, long end)
        {
            var ticksPerRequest = Stopwatch.Frequency / options.Rate;
            var random = new Random(1);
            long sent = 0;
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= end)
                {
                    return;
                }
                var due = start + (long)(sent * ticksPerRequest);
                if (due > now)
                {
                    // Sleep only when the next request is far off; a sleep can overshoot by a millisecond.
                    if (due - now > Stopwatch.Frequency / 500)
                    {
                        Thread.Sleep(1);
                    }
                    else
                    {
                        Thread.Yield();
                    }
                    continue;
                }
                SendOne(connections[sent % connections.Length], random, due);
                sent++;
            }
        }

        private async Task RunClosedLoop(LoadConnection[] connections, long start, long end)
        {
            while (Stopwatch.GetTimestamp() < start)
            {
                await Task.Delay(1);
            }
            foreach (var connection in connections)
            {
                connection.OnReply = c =>
                {
                    if (!_stopping)
                    {
                        SendOne(c, Random.Shared, Stopwatch.GetTimestamp());
                    }
                };
                SendOne(connection, Random.Shared, Stopwatch.GetTimestamp());
            }
            await Task.Delay(TimeSpan.FromSeconds((end - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
            _stopping = true;
        }

        private void SendOne(LoadConnection connection, Random random, long due)
        {
            var key = random.Next(requests.Keys);
            var isGet = random.NextDouble() < options.GetShare;
            connection.Send(isGet ? requests.Get(key) : requests.Set(key), isGet, due);
        }
    }
}

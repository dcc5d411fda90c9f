using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace Nemcache.LoadGenerator;

/// <summary>
/// The run second by second, each reply counted in the second its request was due (so a stall shows in the second it
/// began): how many replies, their p99 and their max. Written as CSV with the wall-clock second, so that a stall can be
/// lined up with the server's runtime counters (dotnet-counters) of the same second. Connections record concurrently,
/// so each second's histogram is recorded under its own lock; a coarser histogram (2 significant digits) keeps the
/// whole timeline small.
/// </summary>
internal sealed class LatencyTimeline
{
    public const string CsvHeader = "epoch_second,second,replies,p99_us,max_us";

    private readonly long _start;
    private readonly double _startEpochSeconds;
    private readonly LongHistogram[] _seconds;

    /// <param name="start">Stopwatch ticks at which second 0 begins.</param>
    public LatencyTimeline(long start, TimeSpan duration, long highestTrackableMicroseconds)
    {
        _start = start;
        _startEpochSeconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 +
            (start - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency;
        _seconds = new LongHistogram[(int)Math.Ceiling(duration.TotalSeconds)];
        for (var i = 0; i < _seconds.Length; i++)
        {
            _seconds[i] = new LongHistogram(highestTrackableMicroseconds, 2);
        }
    }

    public void Record(long due, long microseconds)
    {
        var second = (due - _start) / Stopwatch.Frequency;
        if (second < 0 || second >= _seconds.Length)
        {
            return;
        }
        var histogram = _seconds[second];
        lock (histogram)
        {
            histogram.RecordValue(microseconds);
        }
    }

    public void Write(string file)
    {
        using var writer = new StreamWriter(file);
        writer.WriteLine(CsvHeader);
        for (var i = 0; i < _seconds.Length; i++)
        {
            var histogram = _seconds[i];
            lock (histogram)
            {
                var empty = histogram.TotalCount == 0;
                writer.WriteLine(string.Join(',',
                    Math.Floor(_startEpochSeconds + i).ToString("F0", CultureInfo.InvariantCulture), i, histogram.TotalCount,
                    empty ? 0 : histogram.GetValueAtPercentile(99), empty ? 0 : histogram.GetMaxValue()));
            }
        }
    }
}

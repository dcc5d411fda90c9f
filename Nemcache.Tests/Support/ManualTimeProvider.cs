namespace Nemcache.Tests.Support;

/// <summary>
/// A clock that moves only when a test moves it, so that expiry, delayed flushes and the cache's LRU order (which
/// reads <see cref="GetTimestamp"/>) are deterministic. Safe to read and move from several threads (merge and writer
/// tests do).
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    /// <summary>A fixed, unremarkable moment (2023-11-14T22:13:20Z); tests reason in seconds from it.</summary>
    public static readonly DateTimeOffset DefaultStart = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private long _ticks = start.UtcTicks;

    public ManualTimeProvider() : this(DefaultStart)
    {
    }

    public long UnixSeconds => GetUtcNow().ToUnixTimeSeconds();

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public void AdvanceSeconds(long seconds) => Advance(TimeSpan.FromSeconds(seconds));
}

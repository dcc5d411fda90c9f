namespace Nemcache.Tests.Support;

/// <summary>A TimeProvider whose time moves only when a test says so, for expiry and delayed flush.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public ManualClock() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public long UnixNow => _now.ToUnixTimeSeconds();

    public void Advance(TimeSpan by) => _now += by;

    public void AdvanceSeconds(long seconds) => _now += TimeSpan.FromSeconds(seconds);
}

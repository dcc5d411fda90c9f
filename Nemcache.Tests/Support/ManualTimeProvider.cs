namespace Nemcache.Tests.Support;

/// <summary>A clock that moves only when a test moves it, so that expiry and delayed flushes are deterministic.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    /// <summary>A fixed, unremarkable moment (2023-11-14T22:13:20Z); tests reason in seconds from it.</summary>
    public static readonly DateTimeOffset DefaultStart = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private DateTimeOffset _now = start;

    public ManualTimeProvider() : this(DefaultStart)
    {
    }

    public long UnixSeconds => GetUtcNow().ToUnixTimeSeconds();

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public void AdvanceSeconds(long seconds) => Advance(TimeSpan.FromSeconds(seconds));
}

namespace Nemcache.Tests.Bitcask;

/// <summary>A clock the Bitcask tests move by hand; kept in this folder so it cannot clash with a shared one.</summary>
internal sealed class BitcaskTestClock(long unixSeconds = 1_700_000_000) : TimeProvider
{
    private long _now = unixSeconds;

    public long UnixSeconds => Interlocked.Read(ref _now);

    public void Advance(long seconds) => Interlocked.Add(ref _now, seconds);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeSeconds(UnixSeconds);
}

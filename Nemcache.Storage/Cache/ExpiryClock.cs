namespace Nemcache.Storage.Cache;

/// <summary>
/// Turns memcached exptimes into absolute unix seconds and tells whether an absolute expiry has passed.
/// All expiry inside Nemcache (the cache, notifications, both on-disk formats) is absolute unix seconds, 0 = never.
/// </summary>
public sealed class ExpiryClock(TimeProvider time)
{
    /// <summary>An absolute expiry that is always in the past: what a negative exptime means.</summary>
    public const long AlreadyExpired = 1;

    public static ExpiryClock System { get; } = new(TimeProvider.System);

    public long Now => time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>
    /// memcached's rule: 0 never expires, up to 30 days is relative seconds, above that an absolute unix time, and a
    /// negative value has already expired.
    /// </summary>
    public static long ToAbsolute(long exptime, long now) => exptime switch
    {
        0 => 0,
        < 0 => AlreadyExpired,
        <= CacheLimits.MaxRelativeExpirySeconds => now + exptime,
        _ => exptime,
    };

    public static bool HasExpired(long expiresAt, long now) => expiresAt != 0 && expiresAt <= now;
}

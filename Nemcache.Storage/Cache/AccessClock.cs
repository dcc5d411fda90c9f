namespace Nemcache.Storage.Cache;

/// <summary>
/// The clock of the LRU order: milliseconds on a monotonic clock, stamped on an entry at each hit or store, and what
/// idle times (meta get's l and h, `stats` LRU ages, the key listings) are measured with. With the system's time it is
/// <see cref="Environment.TickCount64"/>, read without a virtual call on every request; with any other
/// <see cref="TimeProvider"/> (a test's manual clock) it is that provider's timestamp, so a test moves LRU time and
/// expiry time together, without sleeping.
/// </summary>
internal sealed class AccessClock
{
    private readonly TimeProvider? _provider;

    public AccessClock(TimeProvider time) => _provider = ReferenceEquals(time, TimeProvider.System) ? null : time;

    public long Milliseconds => _provider is null ? Environment.TickCount64 : ProviderMilliseconds(_provider);

    private static long ProviderMilliseconds(TimeProvider provider) =>
        (long)((Int128)provider.GetTimestamp() * 1000 / provider.TimestampFrequency);
}

namespace Nemcache.Storage.Cache;

/// <summary>
/// Hands out CAS uniques that are never handed out again for another version of any item, across restarts.
/// <para>
/// A unique is an epoch in its high <see cref="EpochBits"/> bits and a counter in the low <see cref="CounterBits"/>.
/// Each run of the server takes an epoch no earlier run has used (<see cref="Persistence.CasEpochFile"/> reserves it
/// durably before the first unique is handed out), so a token from before a restart, a crash or a power loss can only
/// ever match the very version it was handed out for: an item restored with its own CAS. A run that uses up its
/// counter moves into the next epoch, which was reserved with it, and asks for the one after that to be reserved.
/// </para>
/// </summary>
public sealed class CasSequence
{
    public const int CounterBits = 40;
    public const int EpochBits = 64 - CounterBits;
    public const ulong CounterMask = (1UL << CounterBits) - 1;
    public const ulong MaxEpoch = (1UL << EpochBits) - 1;

    private readonly Action<ulong>? _epochEntered;
    private long _last;

    /// <summary>
    /// Starts at the beginning of <paramref name="epoch"/>. <paramref name="epochEntered"/> is told, off the calling
    /// thread's path, whenever the counter runs over into a new epoch, so that the one after it can be reserved.
    /// </summary>
    public CasSequence(ulong epoch, Action<ulong>? epochEntered = null)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, MaxEpoch);
        _last = (long)(epoch << CounterBits);
        _epochEntered = epochEntered;
    }

    /// <summary>A sequence with no durable epochs, for a cache without persistence: epoch 0.</summary>
    public static CasSequence InMemory() => new(0);

    /// <summary>The last unique handed out (or the start of the epoch).</summary>
    public ulong Last => (ulong)Volatile.Read(ref _last);

    public ulong Next()
    {
        var next = (ulong)Interlocked.Increment(ref _last);
        if ((next & CounterMask) == 0 && _epochEntered is { } entered)
        {
            var epoch = next >> CounterBits;
            ThreadPool.UnsafeQueueUserWorkItem(entered, epoch, preferLocal: false);
        }
        return next;
    }

    /// <summary>
    /// A restored item keeps <paramref name="cas"/>: later uniques must lie above it, even if the epoch record was lost
    /// and this run's epoch is older than the one the item was stored in.
    /// </summary>
    public void Observe(ulong cas)
    {
        var seen = (long)cas;
        var last = Volatile.Read(ref _last);
        while ((ulong)last < cas)
        {
            var found = Interlocked.CompareExchange(ref _last, seen, last);
            if (found == last)
            {
                return;
            }
            last = found;
        }
    }
}

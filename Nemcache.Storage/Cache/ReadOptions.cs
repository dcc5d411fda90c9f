namespace Nemcache.Storage.Cache;

/// <summary>What a read does besides returning the item: gat's new expiry, and the meta get's options.</summary>
public readonly record struct ReadOptions
{
    /// <summary>A hit also gets this new exptime (gat, gats, meta get's T).</summary>
    public long? TouchExptime { get; init; }

    /// <summary>Meta get's u: the item is not moved up the LRU, nor marked as fetched.</summary>
    public bool NoBump { get; init; }

    /// <summary>Meta get's N: a miss creates an empty item with this exptime, and the caller wins the right to recache it.</summary>
    public long? VivifyExptime { get; init; }

    /// <summary>Meta get's R: a hit whose remaining time to live is below this many seconds wins the right to recache it.</summary>
    public long? RecacheBelowSeconds { get; init; }

    /// <summary>Meta debug: looks without changing anything, the LRU and the statistics included.</summary>
    public bool Inspect { get; init; }
}

/// <summary>
/// What the meta commands report about an item besides its contents, as it was before the read (except
/// <see cref="Won"/>, which is the read's own outcome).
/// </summary>
/// <param name="FetchedBefore">Whether a read had fetched it before this one.</param>
/// <param name="IdleSeconds">Seconds since it was last read or written.</param>
/// <param name="Stale">Invalidated by a meta delete or a meta set with I; readers should recache it.</param>
/// <param name="Won">This read won the right to recache the item: it is the first to see it stale, about to expire, or missing.</param>
/// <param name="WinTokenSentBefore">An earlier read already won it.</param>
public readonly record struct ItemMetadata(bool FetchedBefore, long IdleSeconds, bool Stale, bool Won, bool WinTokenSentBefore);

namespace Nemcache.Storage.Cache;

/// <summary>incr and decr as the binary protocol and the meta arithmetic command ask for them.</summary>
public readonly record struct ArithmeticOptions(ulong Delta, bool Decrement)
{
    /// <summary>Update only if the item's CAS is this one; 0 means no check.</summary>
    public ulong CompareCas { get; init; }

    /// <summary>A missing key is created holding this number (and <see cref="CreateExptime"/>) instead of missing.</summary>
    public ulong? CreateWith { get; init; }

    public long CreateExptime { get; init; }

    /// <summary>Meta arithmetic's T: an update also gives the item this exptime.</summary>
    public long? UpdateExptime { get; init; }
}

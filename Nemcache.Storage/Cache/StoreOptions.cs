namespace Nemcache.Storage.Cache;

/// <summary>
/// The attributes and conditions of a store, for the protocols that say more than the text protocol's set line: the
/// binary protocol's CAS on every storage command, and the meta commands' invalidation and append-with-create.
/// </summary>
public readonly record struct StoreOptions(uint Flags, long Exptime)
{
    /// <summary>Store only if the item's CAS is this one. 0 means no check, except that <see cref="StoreMode.Cas"/> always checks.</summary>
    public ulong CompareCas { get; init; }

    /// <summary>
    /// Meta set's I: a <see cref="CompareCas"/> older than the item's is accepted too, and the item stored is marked
    /// stale, so readers are told to recache it.
    /// </summary>
    public bool Invalidate { get; init; }

    /// <summary>Meta set's N: append or prepend on a missing key creates it, with this exptime.</summary>
    public long? VivifyExptime { get; init; }
}

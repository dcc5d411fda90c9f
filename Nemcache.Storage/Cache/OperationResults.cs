namespace Nemcache.Storage.Cache;

/// <summary>The storage commands. Each maps to one memcached command of the same name.</summary>
public enum StoreMode : byte { Set, Add, Replace, Append, Prepend, Cas }

public enum StoreResult : byte
{
    Stored,
    /// <summary>add on a live key; replace, append or prepend on a missing one.</summary>
    NotStored,
    /// <summary>cas whose unique no longer matches.</summary>
    Exists,
    /// <summary>cas on a missing key.</summary>
    NotFound,
    /// <summary>The item (after append or prepend) does not fit the max item size (<see cref="CacheLimits.ItemFits"/>).</summary>
    TooLarge,
    /// <summary>Changes are refused (<see cref="MemCache.RefuseChangesWhile"/>): nothing was changed.</summary>
    Refused,
}

/// <summary>Exists: a CAS given with the update (binary and meta protocols) no longer matches. Refused: as for a
/// store.</summary>
public enum ArithmeticResult : byte { Updated, NotFound, NonNumeric, Exists, Refused }

/// <summary>Exists: a delete with a CAS that no longer matches (binary and meta protocols). Refused: as for a
/// store.</summary>
public enum DeleteResult : byte { Deleted, NotFound, Exists, Refused }

/// <summary>Refused: as for a store.</summary>
public enum TouchResult : byte { Touched, NotFound, Refused }

/// <summary>What a read found. Refused: a read that would touch or create, while changes are refused.</summary>
public enum ReadResult : byte { Hit, Miss, Refused }

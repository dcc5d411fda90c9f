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
    /// <summary>The value (after append or prepend) is larger than the max item size.</summary>
    TooLarge,
}

/// <summary>Exists: a CAS given with the update (binary and meta protocols) no longer matches.</summary>
public enum ArithmeticResult : byte { Updated, NotFound, NonNumeric, Exists }

/// <summary>Exists: a delete with a CAS that no longer matches (binary and meta protocols).</summary>
public enum DeleteResult : byte { Deleted, NotFound, Exists }

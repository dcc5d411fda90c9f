namespace Nemcache.Storage.Persistence;

/// <summary>When a plugin's records reach the disk, and so what a reply promises (NEMCACHE_SYNC).</summary>
public enum SyncMode : byte
{
    /// <summary>A reply leaves only after its records are fsynced; concurrent commits share one fsync.</summary>
    Always,
    /// <summary>Records are written to the OS before the reply (a process crash loses nothing replied to) and fsynced
    /// every interval (power loss loses at most the interval).</summary>
    Interval,
    /// <summary>Records are written to the OS before the reply; the OS decides when they reach the disk.</summary>
    None,
}

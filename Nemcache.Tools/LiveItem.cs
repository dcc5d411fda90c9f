namespace Nemcache.Tools;

/// <summary>An item a server would serve if it started on the directory now. ExpiresAt is absolute unix seconds, 0 = never.</summary>
internal readonly record struct LiveItem(byte[] Key, byte[] Value, uint Flags, long ExpiresAt)
{
    /// <summary>
    /// The item with a delayed flush_all folded into its expiry: the flush empties the cache at its deadline, so the
    /// item lives until that deadline at the latest. A backup loaded elsewhere then forgets it when the original would.
    /// </summary>
    public LiveItem ExpiringBy(long? flushAt) =>
        flushAt is { } deadline && (ExpiresAt == 0 || ExpiresAt > deadline) ? this with { ExpiresAt = deadline } : this;
}

using System.Runtime;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// Holds off garbage collection while a plugin restores the cache. Nearly everything a restore allocates survives, so
/// each collection in the middle of it only copies the new items to an older generation and scans the growing tables
/// for references to them again; for a million 100-byte items that cost a third of the restore's time. Disposing ends
/// the region, and the first collection afterwards marks the items once. When the runtime refuses the size, or the
/// restore allocates more than was asked for, collections simply happen as usual.
/// </summary>
public sealed class NoGcRegion : IDisposable
{
    /// <summary>
    /// Bytes a restore allocates per byte of its data directory, rounded up from what 1M items of 100 B measured
    /// (x64, .NET 10): 2.6 for Bitcask with hint files (keydir, values, cache entries), at most 4.2 for the stream log
    /// (its parsed records are garbage too; 4.2 was measured with a map of the log's items, about 50 B per key, that its
    /// replay no longer builds). Larger values allocate closer to 1.
    /// </summary>
    public const long AllocatedBytesPerStoredByte = 5;

    /// <summary>The region's memory is committed up front, so it asks for at most this share of what the process may use.</summary>
    private const long AvailableMemoryDivisor = 2;

    private bool _active;

    private NoGcRegion(bool active) => _active = active;

    /// <summary>
    /// Starts a region sized for restoring from the files in <paramref name="directory"/> into a cache that holds at
    /// most <paramref name="cacheMemoryLimitBytes"/>: a directory larger than the cache restores only what fits (the
    /// rest is evicted as it arrives), so the region is no larger than what the cache can keep.
    /// </summary>
    public static NoGcRegion ForRestoreFrom(string directory, long cacheMemoryLimitBytes)
    {
        var bytes = Math.Min(Math.Min(BytesIn(directory), cacheMemoryLimitBytes) * AllocatedBytesPerStoredByte,
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / AvailableMemoryDivisor);
        if (bytes <= 0 || GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
        {
            return new NoGcRegion(active: false);
        }
        try
        {
            return new NoGcRegion(GC.TryStartNoGCRegion(bytes));
        }
        catch (ArgumentOutOfRangeException)
        {
            // More than this runtime can set aside at once.
            return new NoGcRegion(active: false);
        }
    }

    /// <summary>The bytes of the directory's files; 0 when it is missing or unreadable, which the plugin then reports.</summary>
    private static long BytesIn(string directory)
    {
        long bytes = 0;
        try
        {
            foreach (var file in new DirectoryInfo(directory).EnumerateFiles())
            {
                bytes += file.Length;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        return bytes;
    }

    public void Dispose()
    {
        if (!_active)
        {
            return;
        }
        _active = false;
        try
        {
            if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                GC.EndNoGCRegion();
            }
        }
        catch (InvalidOperationException)
        {
            // The region ended by itself: something allocated more than it asked for, and a collection ran.
        }
    }
}

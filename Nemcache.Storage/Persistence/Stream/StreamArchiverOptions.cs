namespace Nemcache.Storage.Persistence.Stream;

/// <summary>StreamArchiver's own settings; the host fills them from NEMCACHE_STREAM_* variables.</summary>
public sealed record StreamArchiverOptions
{
    public const long DefaultCompactBytes = 64L * 1024 * 1024;

    /// <summary>
    /// NEMCACHE_STREAM_COMPACT_BYTES: the log is compacted once it is larger than this and at least twice the size of
    /// the live data it describes.
    /// </summary>
    public long CompactBytes { get; init; } = DefaultCompactBytes;

    /// <summary>How often the archiver checks whether the log needs compacting.</summary>
    public TimeSpan CompactionCheckInterval { get; init; } = TimeSpan.FromSeconds(1);
}

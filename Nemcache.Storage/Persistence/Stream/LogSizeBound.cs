namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// How large cachelog.bin may grow, from the live data it describes (docs/persistence.md, "Disk use"). Past
/// <see cref="CompactAt"/> a compaction starts at once; at <see cref="StallAt"/> commits wait for it, so that writers
/// that outrun the compaction slow down instead of filling the disk.
/// </summary>
internal sealed record LogSizeBound(long CompactAt, long StallAt)
{
    /// <summary>What a store record costs beyond its key and value, roughly: frame header, field tags, lengths,
    /// sequence, flags, expiry and CAS. Only used to estimate how large a compacted log would be.</summary>
    public const int EstimatedRecordOverhead = 40;

    /// <param name="liveBytes">An estimate of the log a compaction would write now.</param>
    /// <param name="compactBytes">The size below which the log is never compacted (NEMCACHE_STREAM_COMPACT_BYTES).</param>
    public static LogSizeBound For(long liveBytes, long compactBytes)
    {
        // Compacting at twice the live data keeps rewrites to at most half the bytes appended; stalling at twice that
        // leaves a compaction the time of as many bytes again to finish before writers wait.
        var compactAt = Math.Max(compactBytes, 2 * liveBytes);
        return new LogSizeBound(compactAt, 2 * compactAt);
    }
}

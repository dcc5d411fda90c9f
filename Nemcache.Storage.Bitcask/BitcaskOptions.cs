namespace Nemcache.Storage.Bitcask;

/// <summary>The Bitcask engine's own settings; where files go and the sync mode come from PersistenceOptions.</summary>
public sealed record BitcaskOptions
{
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;
    private const long SmallestDefaultMaxFileBytes = 1024 * 1024;
    public const double DefaultMergeFragmentation = 0.5;
    public const long DefaultMergeMinDeadBytes = 64L * 1024 * 1024;
    public const int DefaultMaxOpenFiles = 128;

    /// <summary>The active file rotates before a record would take it past this size (NEMCACHE_BITCASK_MAX_FILE_BYTES).</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    /// <summary>
    /// The file size at which the active file rotates, unless set: a quarter of the cache's memory limit, from 1 MiB to
    /// <see cref="DefaultMaxFileBytes"/>. A rotation hands merging a whole file at once, and under set-heavy load with
    /// evictions nearly all of it is dead. A file much larger than the cache (256 MiB under `-m 64`) takes the dead
    /// bytes past the disk bound in one step, and commits then wait for a merge of every file, for up to a second;
    /// files a quarter of the cache's size keep each step, and each merge, small (docs/bitcask-format.md, "Disk use").
    /// </summary>
    public static long MaxFileBytesFor(long memoryLimitBytes) =>
        Math.Clamp(memoryLimitBytes / 4, SmallestDefaultMaxFileBytes, DefaultMaxFileBytes);

    /// <summary>Merge starts when dead bytes are at least this share of the immutable files (NEMCACHE_BITCASK_MERGE_FRAGMENTATION)...</summary>
    public double MergeFragmentation { get; init; } = DefaultMergeFragmentation;

    /// <summary>...and at least this many bytes (NEMCACHE_BITCASK_MERGE_MIN_DEAD_BYTES).</summary>
    public long MergeMinDeadBytes { get; init; } = DefaultMergeMinDeadBytes;

    /// <summary>How many data-file handles the engine keeps open at most (beyond files in use at that moment).</summary>
    public int MaxOpenFiles { get; init; } = DefaultMaxOpenFiles;

    /// <summary>Throws ArgumentException naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (MaxFileBytes < BitcaskFormat.FileHeaderSize + BitcaskFormat.RecordHeaderSize)
        {
            throw new ArgumentException($"MaxFileBytes must be at least {BitcaskFormat.FileHeaderSize + BitcaskFormat.RecordHeaderSize}; it is {MaxFileBytes}.");
        }
        if (MergeFragmentation is < 0 or > 1 || double.IsNaN(MergeFragmentation))
        {
            throw new ArgumentException($"MergeFragmentation must be between 0 and 1; it is {MergeFragmentation}.");
        }
        if (MaxOpenFiles < 2)
        {
            throw new ArgumentException($"MaxOpenFiles must be at least 2; it is {MaxOpenFiles}.");
        }
        if (MergeMinDeadBytes < 0)
        {
            throw new ArgumentException($"MergeMinDeadBytes must not be negative; it is {MergeMinDeadBytes}.");
        }
    }
}

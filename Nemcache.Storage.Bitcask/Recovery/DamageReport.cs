using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// The warnings for stored bytes that recovery, the value load or a merge could not use: one line per stretch, naming
/// the file, the byte count and the offset, in the stream plugin's wording, so that operators (and tests/corrupt.py)
/// read both plugins' reports the same way.
/// </summary>
internal static class DamageReport
{
    public const string ChecksumMismatch = "checksum mismatch";
    public const string UnreadableHeader = "unreadable record header";
    public const string TornRecord = "torn last record, left in place";
    public const string DamagedLastRecord = "damaged last record of a file that is not the newest";
    public const string NotAPut = "not a put record";

    /// <summary>Recovery stepped over these bytes: every record in them is as if never written.</summary>
    public static void Skipped(ILogger logger, string file, LogDamage damage) =>
        logger.LogWarning("{File}: skipped a damaged record, {Damage}", file, damage);

    /// <summary>A merge stepped over these bytes; a key whose value lay there is dropped at the merge's swap.</summary>
    public static void SkippedByMerge(ILogger logger, string file, LogDamage damage) =>
        logger.LogWarning("{File}: the merge skipped a damaged record, {Damage}", file, damage);

    /// <summary>The message for a put that a key points at and that no longer reads back: the key cannot be served.</summary>
    public static string DamagedValue(string file, long offset, int size, string reason) =>
        $"{file}: damaged value record, {new LogDamage(offset, size, reason)}";

    public static void HintIgnored(ILogger logger, DataFile data) =>
        logger.LogWarning("{Hint}: ignored, it is damaged or does not describe {File}; that file is scanned instead",
            data.HintPath, data.Path);

    /// <summary>Hints are deleted before their data file, so a hint without one means the data file was lost.</summary>
    public static void HintWithoutDataFile(ILogger logger, string hint) =>
        logger.LogWarning("{Hint}: removed, its data file is missing (every record of that file is lost)", hint);
}

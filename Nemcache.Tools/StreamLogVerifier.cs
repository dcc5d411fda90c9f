using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tools;

/// <summary>Checks a stream log with the plugin's own reader: every frame's CRC, every record's parse and sequence.</summary>
internal static class StreamLogVerifier
{
    /// <summary>How often a log that grew during a read is read again, for a last record that was being appended.</summary>
    private const int ReadsOfAGrowingLog = 5;

    public static void Verify(string directory, VerifyReport report)
    {
        var name = StreamLogContents.LogFileName;
        var path = Path.Combine(directory, name);
        StreamLogContents scan;
        bool grew;
        var reads = 0;
        do
        {
            try
            {
                scan = StreamLogContents.Check(directory);
            }
            catch (PersistenceException ex)
            {
                report.Damage(name, ex.Message);
                return;
            }
            grew = new FileInfo(path).Length != scan.FileLength;
        } while (scan.Cut is not null && grew && ++reads < ReadsOfAGrowingLog);

        if (!scan.HasHeader)
        {
            // A crash while the log was being created; the server starts a new log over it.
            report.Note(name, $"a torn header of {scan.FileLength} bytes and no records");
            return;
        }
        foreach (var damage in scan.Skipped)
        {
            report.Damage(name, $"damaged record, {damage}");
        }
        if (scan.Cut is { } cut && grew)
        {
            report.Note(name, $"the last record was still being written at offset {cut.Offset}; not checked");
        }
        else if (scan.Cut is { } lost)
        {
            report.Damage(name, $"the log cannot be read past here (the server drops the rest), {lost}");
        }
        if (scan.Skipped.Count == 0 && scan.Cut is null)
        {
            report.Ok(name, $"{scan.Records} records, {scan.FileLength} bytes");
        }
        if (File.Exists(Path.Combine(directory, StreamLogContents.CompactionFileName)))
        {
            report.Note(StreamLogContents.CompactionFileName, "a compaction under way, or one a crash interrupted (the server deletes it at start)");
        }
    }
}

using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// The stream log's public reading seam, for importers and tools: what a data directory's log holds, read with the
/// plugin's own reader (<see cref="StreamLogReader"/>, which resynchronizes past damage with <see cref="LogResync"/>)
/// and replay (<see cref="StreamLogReplay"/>), so that it agrees with a restore record for record. The log is only
/// read: no lock is taken, nothing is cut or set aside, and records appended after the read began are not seen.
/// Damage is reported as a restore finds it, never thrown: stretches replay stepped over (<see cref="Skipped"/>) and a
/// tail it drops (<see cref="Cut"/>). A file that is not a log this build reads throws <see cref="PersistenceException"/>.
/// </summary>
public sealed class StreamLogContents
{
    /// <summary>The log's name in a data directory; a directory holds the stream plugin's data when this file exists.</summary>
    public const string LogFileName = StreamLogFormat.LogFileName;

    /// <summary>Where a compaction builds the next log; one found at a server's start is deleted as unfinished.</summary>
    public const string CompactionFileName = StreamLogFormat.CompactionFileName;

    private readonly LogScan _scan;
    private readonly StreamLogReplay? _replay;

    private StreamLogContents(LogScan scan, StreamLogReplay? replay)
    {
        _scan = scan;
        _replay = replay;
    }

    /// <summary>Reads and replays the log of <paramref name="directory"/>: <see cref="Items"/> and
    /// <see cref="PendingFlushAt"/> are what a restore would start from. No log at all reads as an empty one.</summary>
    public static StreamLogContents Read(string directory)
    {
        var replay = new StreamLogReplay();
        return new StreamLogContents(replay.Read(PathIn(directory)), replay);
    }

    /// <summary>Reads the log of <paramref name="directory"/> only to check it: every frame's checksum, every record's
    /// parse and sequence. Keeps no item, so it costs no memory for a large log; <see cref="Items"/> is empty.</summary>
    public static StreamLogContents Check(string directory) =>
        new(StreamLogReader.Read(PathIn(directory), (in LogRecordView _) => { }), replay: null);

    /// <summary>False when there was no log, or only a torn header left by a crash while it was being created.</summary>
    public bool HasHeader => _scan.HasHeader;

    /// <summary>The file's length when the read began; nothing past it was read.</summary>
    public long FileLength => _scan.FileLength;

    /// <summary>The intact records read.</summary>
    public long Records => _scan.Records;

    /// <summary>The sequence number of the last intact record, 0 when there is none.</summary>
    public ulong LastSequence => _scan.LastSequence;

    /// <summary>Damaged stretches inside the log that replay stepped over to the next intact record.</summary>
    public IReadOnlyList<LogDamage> Skipped => _scan.Skipped;

    /// <summary>A damaged tail, if there is one: no intact record follows it, so a restore drops everything from it.</summary>
    public LogDamage? Cut => _scan.Cut;

    /// <summary>Every key's last item, as replay leaves it, with its CAS; expired ones are included, since whether an
    /// item has expired depends on the reader's clock.</summary>
    public IEnumerable<CacheItem> Items => _replay?.Items ?? [];

    /// <summary>The deadline (unix seconds) of a delayed flush_all that no later flush replaced, or null. A restore at or
    /// after it empties the cache; before it, the flush is re-armed.</summary>
    public long? PendingFlushAt => _replay?.PendingFlushAt;

    /// <summary>
    /// The length of a log that holds only <paramref name="items"/> and, when given, a pending flush at
    /// <paramref name="pendingFlushAt"/>: the header (if this log has one) and one framed record each, numbered with this
    /// log's last sequence, as a compaction writes its snapshot.
    /// </summary>
    public long CompactedLength(IEnumerable<CacheItem> items, long? pendingFlushAt)
    {
        var length = _scan.HasHeader ? StreamLogFormat.HeaderSize : 0L;
        if (pendingFlushAt is { } deadline)
        {
            length += StreamLogFormat.FrameHeaderSize + LogRecord.ForFlush(deadline, pending: true, _scan.LastSequence).CalculateSize();
        }
        foreach (var item in items)
        {
            length += StreamLogFormat.FrameHeaderSize + LogRecord.ForItem(item, _scan.LastSequence).CalculateSize();
        }
        return length;
    }

    private static string PathIn(string directory) => Path.Combine(directory, StreamLogFormat.LogFileName);
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>What reading a log found.</summary>
internal sealed class LogScan
{
    /// <summary>False when there was no log, or only a torn header left by a crash while it was being created.</summary>
    public bool HasHeader { get; init; }
    public long FileLength { get; init; }
    /// <summary>Where the usable log ends (the file's length unless it was cut): the writer continues from here.</summary>
    public long GoodLength { get; set; }
    public long Records { get; set; }
    public ulong LastSequence { get; set; }
    /// <summary>Damaged stretches inside the log that replay stepped over to the next intact record.</summary>
    public List<LogDamage> Skipped { get; } = [];
    /// <summary>A damaged tail, if there is one: no intact record follows it, so everything from there is dropped.</summary>
    public LogDamage? Cut { get; set; }
}

/// <summary>Takes one good record; its spans are valid only during the call.</summary>
internal delegate void LogRecordSink(in LogRecordView record);

/// <summary>
/// Reads cachelog.bin front to back and hands every good record to the caller. Damage is reported with its offset
/// rather than thrown: replay steps over a damaged stretch to the next intact record (<see cref="LogScan.Skipped"/>),
/// and only when no intact record follows is the log cut there (<see cref="LogScan.Cut"/>): that is a torn tail.
/// The log is read in large sequential chunks (<see cref="LogReadWindow"/>), and each frame is checked and decoded
/// where it lies in the chunk (<see cref="LogRecordView"/>), so that an intact record costs one checksum, one decode
/// and no allocation here.
/// </summary>
internal static class StreamLogReader
{
    /// <summary>The records read before the reader estimates how many the whole log holds.</summary>
    private const int EstimateAfterRecords = 4096;

    /// <summary>Reads the log at <paramref name="path"/>; throws <see cref="PersistenceException"/> when the file is not a
    /// log this version understands, since overwriting it could destroy someone's data. <paramref name="expectRecords"/>,
    /// if given, hears once, early, how many records the log holds at the density of its first ones, so that the caller
    /// can size its tables once instead of growing them step by step.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public static LogScan Read(string path, LogRecordSink apply, Action<long>? expectRecords = null)
    {
        if (!File.Exists(path))
        {
            return new LogScan { HasHeader = false };
        }

        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(file);
        var window = new LogReadWindow(file, length);
        if (!ReadHeader(window, path))
        {
            return new LogScan { HasHeader = false, FileLength = length };
        }

        var scan = new LogScan { HasHeader = true, FileLength = length };
        var offset = (long)StreamLogFormat.HeaderSize;
        while (offset < length)
        {
            var frame = ReadFrame(window, offset);
            if (frame.Failure is { } failure)
            {
                var next = NextIntactFrame(window, offset, scan.LastSequence);
                if (next is null)
                {
                    scan.Cut = new LogDamage(offset, length - offset, failure);
                    scan.GoodLength = offset;
                    break;
                }
                scan.Skipped.Add(new LogDamage(offset, next.Value - offset, failure));
                offset = next.Value;
                continue;
            }

            var payload = window.Span(offset + StreamLogFormat.FrameHeaderSize, frame.Size - StreamLogFormat.FrameHeaderSize);
            if (!TryParse(payload, scan.LastSequence, out var record, out var problem))
            {
                scan.Skipped.Add(new LogDamage(offset, frame.Size, problem!));
                offset += frame.Size;
                continue;
            }
            offset += frame.Size;
            if (scan.Records == EstimateAfterRecords && expectRecords is not null)
            {
                expectRecords(scan.Records * (length - StreamLogFormat.HeaderSize) / (offset - StreamLogFormat.HeaderSize));
            }
            apply(in record);
            scan.Records++;
            scan.LastSequence = record.Sequence;
        }
        if (scan.Cut is null)
        {
            scan.GoodLength = length;
        }
        return scan;
    }

    /// <summary>True for a valid header; false for none at all or a torn one (a prefix of a valid header).</summary>
    private static bool ReadHeader(LogReadWindow window, string path)
    {
        Span<byte> expected = stackalloc byte[StreamLogFormat.HeaderSize];
        StreamLogFormat.WriteHeader(expected);
        Span<byte> header = stackalloc byte[StreamLogFormat.HeaderSize];
        header.Clear();
        var read = (int)Math.Min(StreamLogFormat.HeaderSize, window.FileLength);
        window.Span(0, read).CopyTo(header);
        if (read < header.Length && header[..read].SequenceEqual(expected[..read]))
        {
            return false;
        }
        if (!header[..StreamLogFormat.Magic.Length].SequenceEqual(StreamLogFormat.Magic))
        {
            throw new PersistenceException($"{path} is not a Nemcache log (bad magic); move it away to start with an empty cache");
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[StreamLogFormat.Magic.Length..]);
        if (version != StreamLogFormat.Version)
        {
            throw new PersistenceException($"{path} has log format version {version}; this Nemcache reads version {StreamLogFormat.Version}");
        }
        return true;
    }

    /// <summary>A frame read at some offset: its whole size, and why it is unusable if it is (then the size is what its
    /// length field claims, or 0 when that cannot be right).</summary>
    private readonly record struct Frame(int Size, string? Failure);

    /// <summary>Checks the length and checksum of the frame at <paramref name="offset"/>, leaving it in the window.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    private static Frame ReadFrame(LogReadWindow window, long offset)
    {
        var remaining = window.FileLength - offset;
        if (remaining < StreamLogFormat.FrameHeaderSize)
        {
            return new Frame(0, $"torn frame header ({remaining} of {StreamLogFormat.FrameHeaderSize} bytes)");
        }
        var header = window.Span(offset, StreamLogFormat.FrameHeaderSize);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (payloadLength > StreamLogFormat.MaxPayloadLength || payloadLength > remaining - StreamLogFormat.FrameHeaderSize)
        {
            return new Frame(0, $"frame length {payloadLength} runs past the end of the log ({remaining} bytes left)");
        }

        var size = StreamLogFormat.FrameHeaderSize + (int)payloadLength;
        var frame = window.Span(offset, size);
        return StreamLogFormat.FrameChecksum(frame[4..StreamLogFormat.FrameHeaderSize], frame[StreamLogFormat.FrameHeaderSize..]) == crc
            ? new Frame(size, null)
            : new Frame(size, "checksum mismatch");
    }

    /// <summary>
    /// Where replay goes on after the damaged frame at <paramref name="damaged"/>: the first offset after its first
    /// byte where a whole record checks out (<see cref="LogResync"/>), or null when none does: then this is the log's
    /// tail. The scan starts inside the damaged frame rather than where its length points, since a damaged length can
    /// point past intact records (even exactly at a later frame, when records have one size).
    /// </summary>
    private static long? NextIntactFrame(LogReadWindow window, long damaged, ulong lastSequence)
    {
        var candidates = new LogResync(window.File, damaged, window.FileLength, lastSequence);
        while (candidates.Next() is { } candidate)
        {
            var frame = ReadFrame(window, candidate);
            if (frame.Failure is null
                && TryParse(window.Span(candidate + StreamLogFormat.FrameHeaderSize, frame.Size - StreamLogFormat.FrameHeaderSize),
                    lastSequence, out _, out _))
            {
                return candidate;
            }
        }
        return null;
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private static bool TryParse(ReadOnlySpan<byte> bytes, ulong lastSequence, out LogRecordView record, out string? problem)
    {
        if (!LogRecordView.TryDecode(bytes, out record, out var malformed))
        {
            problem = $"checksum matches but the record does not parse: {malformed}";
            return false;
        }
        if (record.Change == LogRecord.ChangeOneofCase.None)
        {
            problem = "record carries no change";
            return false;
        }
        if (record.Sequence < lastSequence)
        {
            problem = $"sequence {record.Sequence} after {lastSequence}";
            return false;
        }
        problem = null;
        return true;
    }
}

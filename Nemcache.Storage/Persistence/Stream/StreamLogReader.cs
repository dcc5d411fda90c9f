using System.Buffers.Binary;
using Google.Protobuf;

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

/// <summary>
/// Reads cachelog.bin front to back and hands every good record to the caller. Damage is reported with its offset
/// rather than thrown: replay steps over a damaged stretch to the next intact record (<see cref="LogScan.Skipped"/>),
/// and only when no intact record follows is the log cut there (<see cref="LogScan.Cut"/>): that is a torn tail.
/// </summary>
internal static class StreamLogReader
{
    private const int ReadBufferSize = 1 << 20;

    /// <summary>Reads the log at <paramref name="path"/>; throws <see cref="PersistenceException"/> when the file is not a
    /// log this version understands, since overwriting it could destroy someone's data.</summary>
    public static LogScan Read(string path, Action<LogRecord> apply)
    {
        if (!File.Exists(path))
        {
            return new LogScan { HasHeader = false };
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, ReadBufferSize);
        var length = file.Length;
        if (!ReadHeader(file, path))
        {
            return new LogScan { HasHeader = false, FileLength = length };
        }

        var scan = new LogScan { HasHeader = true, FileLength = length };
        var payload = new byte[4096];
        var offset = (long)StreamLogFormat.HeaderSize;
        while (offset < length)
        {
            var frame = ReadFrame(file, offset, length, ref payload);
            if (frame.Failure is { } failure)
            {
                var next = NextIntactFrame(file, offset, length, scan.LastSequence, ref payload);
                if (next is null)
                {
                    scan.Cut = new LogDamage(offset, length - offset, failure);
                    scan.GoodLength = offset;
                    break;
                }
                scan.Skipped.Add(new LogDamage(offset, next.Value - offset, failure));
                offset = next.Value;
                file.Position = offset;
                continue;
            }

            var record = Parse(payload.AsSpan(0, frame.Size - StreamLogFormat.FrameHeaderSize), scan.LastSequence, out var problem);
            offset += frame.Size;
            if (record is null)
            {
                scan.Skipped.Add(new LogDamage(offset - frame.Size, frame.Size, problem!));
                continue;
            }
            apply(record);
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
    private static bool ReadHeader(FileStream file, string path)
    {
        Span<byte> expected = stackalloc byte[StreamLogFormat.HeaderSize];
        StreamLogFormat.WriteHeader(expected);
        Span<byte> header = stackalloc byte[StreamLogFormat.HeaderSize];
        var read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
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

    /// <summary>Reads the frame at the stream's position (which is <paramref name="offset"/>) into
    /// <paramref name="payload"/> and checks its length and checksum.</summary>
    private static Frame ReadFrame(FileStream file, long offset, long fileLength, ref byte[] payload)
    {
        var remaining = fileLength - offset;
        if (remaining < StreamLogFormat.FrameHeaderSize)
        {
            return new Frame(0, $"torn frame header ({remaining} of {StreamLogFormat.FrameHeaderSize} bytes)");
        }
        Span<byte> header = stackalloc byte[StreamLogFormat.FrameHeaderSize];
        file.ReadExactly(header);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (payloadLength > StreamLogFormat.MaxPayloadLength || payloadLength > remaining - StreamLogFormat.FrameHeaderSize)
        {
            return new Frame(0, $"frame length {payloadLength} runs past the end of the log ({remaining} bytes left)");
        }

        if (payload.Length < payloadLength)
        {
            payload = new byte[Math.Max(payloadLength, payload.Length * 2)];
        }
        var body = payload.AsSpan(0, (int)payloadLength);
        file.ReadExactly(body);
        var size = StreamLogFormat.FrameHeaderSize + (int)payloadLength;
        return StreamLogFormat.FrameChecksum(header[4..], body) == crc ? new Frame(size, null) : new Frame(size, "checksum mismatch");
    }

    /// <summary>
    /// Where replay goes on after the damaged frame at <paramref name="damaged"/>: the first offset after its first
    /// byte where a whole record checks out (<see cref="LogResync"/>), or null when none does: then this is the log's
    /// tail. The scan starts inside the damaged frame rather than where its length points, since a damaged length can
    /// point past intact records (even exactly at a later frame, when records have one size).
    /// </summary>
    private static long? NextIntactFrame(FileStream file, long damaged, long fileLength, ulong lastSequence, ref byte[] payload)
    {
        var candidates = new LogResync(file.SafeFileHandle, damaged, fileLength, lastSequence);
        while (candidates.Next() is { } candidate)
        {
            file.Position = candidate;
            var frame = ReadFrame(file, candidate, fileLength, ref payload);
            if (frame.Failure is null
                && Parse(payload.AsSpan(0, frame.Size - StreamLogFormat.FrameHeaderSize), lastSequence, out _) is not null)
            {
                return candidate;
            }
        }
        return null;
    }

    private static LogRecord? Parse(ReadOnlySpan<byte> bytes, ulong lastSequence, out string? problem)
    {
        LogRecord record;
        try
        {
            record = LogRecord.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            problem = $"checksum matches but the record does not parse: {ex.Message}";
            return null;
        }
        if (record.ChangeCase == LogRecord.ChangeOneofCase.None)
        {
            problem = "record carries no change";
            return null;
        }
        if (record.Sequence < lastSequence)
        {
            problem = $"sequence {record.Sequence} after {lastSequence}";
            return null;
        }
        problem = null;
        return record;
    }
}

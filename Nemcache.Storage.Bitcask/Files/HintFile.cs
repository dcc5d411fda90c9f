using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// A data file's index: every record's fixed fields and key, without values, so that recovery can rebuild the keydir
/// without reading the values twice. It ends with a trailer holding the data file's length and a CRC-32C of the whole
/// hint file; a hint whose CRC or length does not match is ignored and its data file scanned instead.
/// </summary>
internal static class HintFile
{
    /// <summary>Writes (or replaces) the hint of an immutable data file and fsyncs it.</summary>
    public static void Write(DataFile data)
    {
        using var stream = new FileStream(data.HintPath,
            OwnerOnlyFiles.Options(System.IO.FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024));
        var crc = Crc32C.Create();
        Span<byte> header = stackalloc byte[FileHeaderSize];
        WriteFileHeader(header, HintMagic, data.Stamp);
        stream.Write(header);
        crc.Append(header);

        long count = 0;
        var entry = new byte[HintRecordHeaderSize + Cache.CacheLimits.MaxKeyLength];
        data.Scan((in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> _) =>
        {
            var bytes = entry.AsSpan(0, HintRecordHeaderSize + key.Length);
            BinaryPrimitives.WriteInt64LittleEndian(bytes[HintSeqOffset..], record.Seq);
            BinaryPrimitives.WriteInt64LittleEndian(bytes[HintExpiresOffset..], record.ExpiresAt);
            BinaryPrimitives.WriteInt64LittleEndian(bytes[HintValueOffsetOffset..], record.ValueOffset);
            BinaryPrimitives.WriteInt32LittleEndian(bytes[HintValueSizeOffset..], record.ValueSize);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes[HintKeySizeOffset..], (ushort)key.Length);
            bytes[HintTypeOffset] = (byte)record.Type;
            key.CopyTo(bytes[HintRecordHeaderSize..]);
            stream.Write(bytes);
            crc.Append(bytes);
            count++;
        });

        Span<byte> trailer = stackalloc byte[HintTrailerSize];
        BinaryPrimitives.WriteInt64LittleEndian(trailer, count);
        BinaryPrimitives.WriteInt64LittleEndian(trailer[8..], data.Length);
        crc.Append(trailer[..16]);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[16..], crc.GetCurrentHashAsUInt32());
        stream.Write(trailer);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Writes an immutable file's hint in the background; a failure only costs the next start a scan, so it
    /// is logged.</summary>
    public static void WriteOrLeaveForScan(DataFile data, ILogger logger)
    {
        try
        {
            Write(data);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The file was merged away meanwhile, or the disk refused; either way the next start scans instead. The
            // hint begun for it goes: left behind its merged-away file, the next start would take it for a lost file.
            logger.LogDebug(ex, "No hint written for {File}", data.Path);
            try
            {
                File.Delete(data.HintPath);
            }
            catch (IOException)
            {
                // A hint the disk will not let go of is ignored at the next start, having no valid trailer.
            }
        }
    }

    /// <summary>
    /// Replays the hint of <paramref name="data"/> into <paramref name="visitor"/>, or returns false, having visited
    /// nothing, when the hint is missing, damaged or describes a different length of data file.
    /// </summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public static bool TryLoad(DataFile data, RecordVisitor visitor)
    {
        if (!File.Exists(data.HintPath))
        {
            return false;
        }
        using var handle = File.OpenHandle(data.HintPath, System.IO.FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = RandomAccess.GetLength(handle);
        if (length < FileHeaderSize + HintTrailerSize || !IsIntact(handle, length, data.Length, data.Stamp))
        {
            return false;
        }
        Replay(handle, length, data.RecordHeaderSize, (in RecordInfo info, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        {
            visitor(in info, key, value);
            data.NoteSeq(info.Seq);
        });
        return true;
    }

    /// <summary>
    /// Replays the hint of a data file that is lost (missing, or emptied), or returns false when the hint is not
    /// intact. Only the hint's own checks apply: there is no data file to compare its stamp and length with. The
    /// records' offsets mean nothing then; their types, keys, sequence numbers and expiries say what was lost.
    /// </summary>
    public static bool TryLoadLost(string hintPath, RecordVisitor visitor)
    {
        using var handle = File.OpenHandle(hintPath, System.IO.FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = RandomAccess.GetLength(handle);
        if (length < FileHeaderSize + HintTrailerSize || !IsIntact(handle, length, dataLength: null, stamp: null))
        {
            return false;
        }
        Replay(handle, length, BitcaskFormat.RecordHeaderSize, visitor);
        return true;
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private static void Replay(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, int recordHeaderSize,
        RecordVisitor visitor)
    {
        var reader = new SequentialReader(handle, FileHeaderSize, length - HintTrailerSize);
        while (reader.TryPeek(HintRecordHeaderSize, out var fixedPart))
        {
            var keySize = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart[HintKeySizeOffset..]);
            var valueOffset = BinaryPrimitives.ReadInt64LittleEndian(fixedPart[HintValueOffsetOffset..]);
            var info = new RecordInfo(
                (RecordType)fixedPart[HintTypeOffset],
                BinaryPrimitives.ReadInt64LittleEndian(fixedPart[HintSeqOffset..]),
                BinaryPrimitives.ReadInt64LittleEndian(fixedPart[HintExpiresOffset..]),
                Flags: 0,
                keySize,
                BinaryPrimitives.ReadInt32LittleEndian(fixedPart[HintValueSizeOffset..]),
                valueOffset - recordHeaderSize - keySize,
                HeaderSize: recordHeaderSize);
            reader.TryPeek(HintRecordHeaderSize + keySize, out var whole);
            visitor(in info, whole[HintRecordHeaderSize..], []);
            reader.Advance(HintRecordHeaderSize + keySize);
        }
    }

    /// <summary>
    /// How many records the hint of <paramref name="data"/> says it holds, from its trailer alone (0 without a hint);
    /// for sizing the keydir before the hints are read. The CRC is not checked here, so a count larger than the file
    /// could hold is taken as 0.
    /// </summary>
    public static int RecordCount(DataFile data)
    {
        if (!File.Exists(data.HintPath))
        {
            return 0;
        }
        using var handle = File.OpenHandle(data.HintPath, System.IO.FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = RandomAccess.GetLength(handle);
        Span<byte> trailer = stackalloc byte[HintTrailerSize];
        if (length < FileHeaderSize + HintTrailerSize || RandomAccess.Read(handle, trailer, length - HintTrailerSize) < HintTrailerSize)
        {
            return 0;
        }
        var count = BinaryPrimitives.ReadInt64LittleEndian(trailer);
        var most = (length - FileHeaderSize - HintTrailerSize) / HintRecordHeaderSize;
        return count >= 0 && count <= most ? (int)count : 0;
    }

    /// <summary>Checks the header (and that it names this data file's stamp), the trailer's CRC over everything before it, and the data length it was written for (stamp and length when given).</summary>
    private static bool IsIntact(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, long? dataLength, long? stamp)
    {
        var reader = new SequentialReader(handle, 0, length);
        reader.TryPeek(FileHeaderSize, out var header);
        if (CheckFileHeader(header, HintMagic, out _) is not null || (stamp is { } expected && ReadFileStamp(header) != expected))
        {
            return false;
        }
        var crc = Crc32C.Create();
        var body = length - sizeof(uint);
        while (reader.Position < body)
        {
            var chunk = (int)Math.Min(body - reader.Position, 64 * 1024);
            reader.TryPeek(chunk, out var bytes);
            crc.Append(bytes);
            reader.Advance(chunk);
        }
        reader.TryPeek(sizeof(uint), out var stored);
        var storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(stored);
        Span<byte> trailer = stackalloc byte[HintTrailerSize];
        RandomAccess.Read(handle, trailer, length - HintTrailerSize);
        return storedCrc == crc.GetCurrentHashAsUInt32() &&
               (dataLength is not { } expectedLength || BinaryPrimitives.ReadInt64LittleEndian(trailer[8..]) == expectedLength);
    }
}

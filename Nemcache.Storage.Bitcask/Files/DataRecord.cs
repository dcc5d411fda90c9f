using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// A data record's fixed fields and where it lies, as a scan of a data file or a hint file reports it.
/// <see cref="Cas"/> is 0 when the record does not keep one (version 1, or a hint, which carries no CAS);
/// <see cref="HeaderSize"/> is the header size of the file's version.
/// </summary>
internal readonly record struct RecordInfo(
    RecordType Type, long Seq, long ExpiresAt, uint Flags, int KeySize, int ValueSize, long RecordOffset,
    ulong Cas = 0, int HeaderSize = RecordHeaderSize)
{
    public int Size => HeaderSize + KeySize + ValueSize;

    public long ValueOffset => RecordOffset + HeaderSize + KeySize;
}

/// <summary>What decoding the bytes at a record boundary found.</summary>
internal enum DecodeStatus
{
    Ok,
    /// <summary>The header is plausible but the record runs past the end of the bytes given.</summary>
    Incomplete,
    /// <summary>The header cannot be a record's: unknown type or impossible sizes.</summary>
    Garbage,
    /// <summary>The whole record is there but its CRC does not match.</summary>
    BadCrc,
}

/// <summary>Encodes and decodes one data record (layout in <see cref="BitcaskFormat"/>).</summary>
internal static class DataRecord
{
    /// <summary>The size of a record this build writes.</summary>
    public static int SizeOf(int keySize, int valueSize) => RecordHeaderSize + keySize + valueSize;

    /// <summary>
    /// Writes the record, in the current version, into <paramref name="destination"/>, which must hold
    /// <see cref="SizeOf"/> bytes. <paramref name="cas"/> is the item's CAS unique on a put (0 elsewhere).
    /// </summary>
    public static int Encode(Span<byte> destination, RecordType type, long seq, long expiresAt, uint flags,
        ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong cas = 0)
    {
        var size = SizeOf(key.Length, value.Length);
        var record = destination[..size];
        BinaryPrimitives.WriteInt64LittleEndian(record[RecordSeqOffset..], seq);
        BinaryPrimitives.WriteInt64LittleEndian(record[RecordExpiresOffset..], expiresAt);
        BinaryPrimitives.WriteUInt32LittleEndian(record[RecordFlagsOffset..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(record[RecordKeySizeOffset..], checked((ushort)key.Length));
        BinaryPrimitives.WriteInt32LittleEndian(record[RecordValueSizeOffset..], value.Length);
        record[RecordTypeOffset] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(record[RecordCasOffset..], cas);
        key.CopyTo(record[RecordHeaderSize..]);
        value.CopyTo(record[(RecordHeaderSize + key.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record[(RecordCrcOffset + sizeof(uint))..]));
        return size;
    }

    /// <summary>
    /// Reads the header at the start of <paramref name="source"/> and, when the whole record is there, checks its CRC.
    /// <paramref name="info"/> is filled whenever the header is plausible (every status but Garbage), so that a caller
    /// can skip a record with a bad CRC by its size. For a record of the current version.
    /// </summary>
    public static DecodeStatus Decode(ReadOnlySpan<byte> source, long recordOffset, out RecordInfo info) =>
        Decode(source, recordOffset, RecordHeaderSize, out info);

    /// <summary>As <see cref="Decode(ReadOnlySpan{byte}, long, out RecordInfo)"/>, for a file whose records have
    /// <paramref name="headerSize"/>-byte headers (<see cref="BitcaskFormat.RecordHeaderSizeOf"/>).</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public static DecodeStatus Decode(ReadOnlySpan<byte> source, long recordOffset, int headerSize, out RecordInfo info)
    {
        info = default;
        if (source.Length < headerSize)
        {
            return DecodeStatus.Incomplete;
        }
        var type = (RecordType)source[RecordTypeOffset];
        var keySize = BinaryPrimitives.ReadUInt16LittleEndian(source[RecordKeySizeOffset..]);
        var valueSize = BinaryPrimitives.ReadInt32LittleEndian(source[RecordValueSizeOffset..]);
        if (!IsPlausible(type, keySize, valueSize))
        {
            return DecodeStatus.Garbage;
        }
        info = new RecordInfo(type,
            BinaryPrimitives.ReadInt64LittleEndian(source[RecordSeqOffset..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[RecordExpiresOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[RecordFlagsOffset..]),
            keySize, valueSize, recordOffset,
            headerSize > RecordCasOffset ? BinaryPrimitives.ReadUInt64LittleEndian(source[RecordCasOffset..]) : 0,
            headerSize);
        if (source.Length < info.Size)
        {
            return DecodeStatus.Incomplete;
        }
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(source);
        return stored == Crc32C.Compute(source[sizeof(uint)..info.Size]) ? DecodeStatus.Ok : DecodeStatus.BadCrc;
    }

    public static ReadOnlySpan<byte> KeyOf(ReadOnlySpan<byte> record, RecordInfo info) =>
        record.Slice(info.HeaderSize, info.KeySize);

    public static ReadOnlySpan<byte> ValueOf(ReadOnlySpan<byte> record, RecordInfo info) =>
        record.Slice(info.HeaderSize + info.KeySize, info.ValueSize);

    /// <summary>Sizes each type may have: keys of 1 to 250 bytes except on flush markers, values only on puts.</summary>
    private static bool IsPlausible(RecordType type, int keySize, int valueSize) => type switch
    {
        RecordType.Put => keySize is > 0 and <= Cache.CacheLimits.MaxKeyLength && valueSize is >= 0 and <= MaxValueSize,
        RecordType.Tombstone or RecordType.Touch => keySize is > 0 and <= Cache.CacheLimits.MaxKeyLength && valueSize == 0,
        RecordType.Flush or RecordType.DelayedFlush => keySize == 0 && valueSize == 0,
        _ => false,
    };
}

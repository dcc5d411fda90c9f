using System.Buffers.Binary;

namespace Nemcache.Storage.Bitcask;

/// <summary>What a record is. The numbers are on disk: never renumber them.</summary>
public enum RecordType : byte
{
    /// <summary>A key's value, flags and expiry.</summary>
    Put = 1,
    /// <summary>The key was deleted or evicted for capacity.</summary>
    Tombstone = 2,
    /// <summary>flush_all now: every record with a lower sequence number is dead. No key; the expiry field holds the time.</summary>
    Flush = 3,
    /// <summary>flush_all with a delay: the expiry field holds the deadline. Superseded by any later flush marker.</summary>
    DelayedFlush = 4,
    /// <summary>touch/gat: the key's latest put before this record now expires at the expiry field. No value.</summary>
    Touch = 5,
}

/// <summary>
/// The on-disk layout, stated once. Every integer is little-endian. docs/bitcask-format.md describes the same bytes
/// in prose; change both together and bump <see cref="Version"/>.
/// </summary>
internal static class BitcaskFormat
{
    /// <summary>The version this build writes. Version 1 records have no CAS field; this build still reads them.</summary>
    public const ushort Version = 2;

    /// <summary>The oldest version this build reads.</summary>
    public const ushort OldestReadableVersion = 1;

    /// <summary>"NCBD", "NCBH", "NCBM" as the first four bytes of a data, hint and merge-commit file.</summary>
    public const uint DataMagic = 'N' | 'C' << 8 | 'B' << 16 | 'D' << 24;
    public const uint HintMagic = 'N' | 'C' << 8 | 'B' << 16 | 'H' << 24;
    public const uint MergeCommitMagic = 'N' | 'C' << 8 | 'B' << 16 | 'M' << 24;

    /// <summary>
    /// File header: magic (4), version (2), reserved zero (2), stamp (8). A data file's stamp is random, drawn when
    /// it is created; its hint file repeats it, so that a hint is never taken for another file's.
    /// </summary>
    public const int FileHeaderSize = 16;
    public const int FileStampOffset = 8;

    /// <summary>
    /// Data record: CRC-32C of every byte after it, then the fields below, then key and value. Version 2 appends the
    /// item's CAS unique to version 1's 31-byte header, so that every other field stays where it was.
    /// </summary>
    public const int RecordCrcOffset = 0;
    public const int RecordSeqOffset = 4;
    public const int RecordExpiresOffset = 12;
    public const int RecordFlagsOffset = 20;
    public const int RecordKeySizeOffset = 24;
    public const int RecordValueSizeOffset = 26;
    public const int RecordTypeOffset = 30;
    public const int RecordCasOffset = 31;
    public const int RecordHeaderSize = 39;
    public const int Version1RecordHeaderSize = 31;

    /// <summary>The record header size of a data file of <paramref name="version"/> (one this build reads).</summary>
    public static int RecordHeaderSizeOf(ushort version) => version == 1 ? Version1RecordHeaderSize : RecordHeaderSize;

    /// <summary>Hint record: the data record's fields without CRC and flags, plus where its value starts.</summary>
    public const int HintSeqOffset = 0;
    public const int HintExpiresOffset = 8;
    public const int HintValueOffsetOffset = 16;
    public const int HintValueSizeOffset = 24;
    public const int HintKeySizeOffset = 28;
    public const int HintTypeOffset = 30;
    public const int HintRecordHeaderSize = 31;

    /// <summary>Hint trailer: record count (8), length of the data file it describes (8), CRC-32C of all before (4).</summary>
    public const int HintTrailerSize = 20;

    /// <summary>The largest value a record may declare; memcached's largest -I. Larger sizes mean a damaged header.</summary>
    public const int MaxValueSize = 1024 * 1024 * 1024;

    public const string DataPrefix = "data.";
    public const string MergeOutputPrefix = "merge.";
    public const string HintSuffix = ".hint";
    /// <summary>A damaged data file's copy, set aside by the merge that rewrote it; never read again.</summary>
    public const string DamagedSuffix = ".damaged";
    public const string LockFileName = Persistence.DataDirectoryLock.FileName;
    public const string MergeCommitFileName = "MERGE";

    public static void WriteFileHeader(Span<byte> destination, uint magic, long stamp)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(destination[FileStampOffset..], stamp);
    }

    public static long ReadFileStamp(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64LittleEndian(header[FileStampOffset..]);

    /// <summary>Null when the header is ours, in a version this build reads; otherwise why not, for a one-line error.</summary>
    public static string? CheckFileHeader(ReadOnlySpan<byte> header, uint magic, out ushort version)
    {
        version = 0;
        if (header.Length < FileHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != magic)
        {
            return "it does not start with the Nemcache Bitcask magic number";
        }
        version = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        return version is >= OldestReadableVersion and <= Version
            ? null
            : $"it has format version {version}, this build reads {OldestReadableVersion} to {Version}";
    }

    public static string DataFileName(int id) => DataPrefix + id;
    public static string HintFileName(int id) => DataPrefix + id + HintSuffix;
    public static string MergeOutputFileName(int id) => MergeOutputPrefix + id;
}

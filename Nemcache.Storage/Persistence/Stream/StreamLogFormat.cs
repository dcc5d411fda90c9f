using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// The layout of cachelog.bin, stated once (docs/persistence.md has it byte by byte):
/// <code>
/// header: magic "NCLG" (4) | format version, u32 LE (4)
/// frame:  CRC-32C of length and payload, u32 LE (4) | payload length, u32 LE (4) | payload: one LogRecord (protobuf)
/// </code>
/// </summary>
internal static class StreamLogFormat
{
    public const string LogFileName = "cachelog.bin";

    /// <summary>Where a compaction builds the next log; it becomes the log only by an atomic rename.</summary>
    public const string CompactionFileName = "cachelog.bin.compacting";

    /// <summary>
    /// Damaged bytes are set aside under this prefix and a UTC time (<c>yyyyMMddTHHmmssfffZ</c>) before the log is
    /// truncated or rewritten, so that recovery never destroys them. Nemcache never reads these files again.
    /// </summary>
    public const string DamagedFilePrefix = "cachelog.bin.damaged-";

    public static ReadOnlySpan<byte> Magic => "NCLG"u8;

    public const uint Version = 1;

    public const int HeaderSize = 8;

    public const int FrameHeaderSize = 8;

    /// <summary>
    /// The largest payload a frame may announce: the largest item memcached allows (1 GiB) plus room for the key and
    /// the protobuf fields. A larger length can only be damage.
    /// </summary>
    public const int MaxPayloadLength = Cache.CacheLimits.MaxMaxItemSize + 4096;

    /// <summary>Opens a file of the data directory; one it creates is the owner's alone (0600).</summary>
    public static SafeFileHandle OpenFile(string path, FileMode mode, FileAccess access, FileOptions fileOptions = FileOptions.None)
    {
        // File.OpenHandle cannot set the mode a new file is created with; FileStreamOptions can. The stream is
        // unbuffered, so its handle serves RandomAccess directly and owns nothing else.
        var stream = new FileStream(path, OwnerOnlyFiles.Options(mode, access, FileShare.Read, fileOptions));
        return stream.SafeFileHandle;
    }

    public static void WriteHeader(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[Magic.Length..], Version);
    }

    /// <summary>Writes the frame header for a payload already placed right after it.</summary>
    public static void SealFrame(Span<byte> frame)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], (uint)(frame.Length - FrameHeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(frame, FrameChecksum(frame[4..FrameHeaderSize], frame[FrameHeaderSize..]));
    }

    /// <summary>
    /// The checksum a frame must carry: the standard CRC-32C (Castagnoli, as iSCSI and ext4 use it) of its length
    /// field followed by its payload, as they lie on disk.
    /// </summary>
    public static uint FrameChecksum(ReadOnlySpan<byte> lengthField, ReadOnlySpan<byte> payload) =>
        Crc32C.Compute(lengthField, payload);
}

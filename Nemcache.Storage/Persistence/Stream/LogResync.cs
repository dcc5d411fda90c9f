using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// Finds where intact records may begin again after damage: the offsets past a damaged frame whose bytes look like
/// the start of a frame as the writer makes them. The caller checks each candidate's CRC and parses it; this filter
/// only keeps that work small, so that the scan costs one pass over the damaged stretch and almost no checksums.
/// <para>
/// A frame starts, as <see cref="LogRecord"/> is written, with its length, then the payload's tag for
/// <c>sequence</c> (<c>08</c>), a sequence number, one change's tag and that change's length, which must end exactly at
/// the frame's end. The sequence must lie between the last one read before the damage and that plus the bytes the
/// damage covers (a record takes more than a byte), since sequence numbers never decrease along the log and the
/// records in between were lost; before any record was read, any sequence will do (a compacted log's snapshot
/// carries the old log's last one). A record with sequence 0 starts with the change's tag.
/// </para>
/// </summary>
internal sealed class LogResync
{
    private const int ChunkSize = 1 << 20;

    /// <summary>The longest frame start the filter reads: frame header, sequence tag and varint, change tag and length
    /// varint.</summary>
    private const int Lookahead = StreamLogFormat.FrameHeaderSize + 1 + 10 + 1 + 5;

    private const byte SequenceTag = 0x08;

    private readonly SafeFileHandle _file;
    private readonly long _damaged;
    private readonly long _fileLength;
    private readonly ulong _lastSequence;
    private readonly byte[] _chunk;
    private long _chunkStart;
    private int _chunkLength;
    private long _position;

    public LogResync(SafeFileHandle file, long damaged, long fileLength, ulong lastSequence)
    {
        _file = file;
        _damaged = damaged;
        _fileLength = fileLength;
        _lastSequence = lastSequence;
        _chunk = new byte[ChunkSize + Lookahead];
        _position = damaged + 1;
        _chunkStart = _position;
    }

    /// <summary>The next offset that may start an intact frame, or null at the end of the file.</summary>
    public long? Next()
    {
        while (_position + StreamLogFormat.FrameHeaderSize < _fileLength)
        {
            if (_position >= _chunkStart + _chunkLength - Lookahead && _chunkStart + _chunkLength < _fileLength
                || _position < _chunkStart || _position >= _chunkStart + _chunkLength)
            {
                if (!Load(_position))
                {
                    return null;
                }
            }
            var offset = _position++;
            if (LooksLikeFrame(_chunk.AsSpan((int)(offset - _chunkStart), (int)Math.Min(Lookahead, _chunkStart + _chunkLength - offset)), offset))
            {
                return offset;
            }
        }
        return null;
    }

    /// <summary>Reads the chunk that starts at <paramref name="start"/>; false if the file ended early.</summary>
    private bool Load(long start)
    {
        _chunkStart = start;
        _chunkLength = RandomAccess.Read(_file, _chunk.AsSpan(0, (int)Math.Min(_chunk.Length, _fileLength - start)), start);
        return _chunkLength > 0;
    }

    private bool LooksLikeFrame(ReadOnlySpan<byte> bytes, long offset)
    {
        if (bytes.Length < StreamLogFormat.FrameHeaderSize + 2)
        {
            return false;
        }
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (length < 2 || length > StreamLogFormat.MaxPayloadLength || length > _fileLength - offset - StreamLogFormat.FrameHeaderSize)
        {
            return false;
        }
        var payload = bytes[StreamLogFormat.FrameHeaderSize..];
        var position = 0;
        if (payload[0] == SequenceTag)
        {
            position = 1;
            // With no record read yet, the first may be a compaction's snapshot, whose sequence can be anything.
            if (!TryReadVarint(payload, ref position, out var sequence) || sequence < _lastSequence
                || _lastSequence != 0 && sequence - _lastSequence > (ulong)(offset - _damaged) + 1)
            {
                return false;
            }
        }
        else if (_lastSequence != 0)
        {
            return false;
        }
        if (position >= payload.Length || !IsChangeTag(payload[position]))
        {
            return false;
        }
        position++;
        return TryReadVarint(payload, ref position, out var changeLength) && (ulong)position + changeLength == length;
    }

    /// <summary>The tags of <see cref="LogRecord"/>'s change fields 2 to 5, each length-delimited.</summary>
    private static bool IsChangeTag(byte tag) => tag is 0x12 or 0x1a or 0x22 or 0x2a;

    private static bool TryReadVarint(ReadOnlySpan<byte> bytes, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < bytes.Length; shift += 7)
        {
            var b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }
        return false;
    }
}

using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Reads a byte range of a file front to back through one buffer, with positional reads, so that scanning a data or
/// hint file costs a few large reads instead of one per record. Peeked bytes stay valid until the next peek.
/// </summary>
internal sealed class SequentialReader(SafeFileHandle handle, long start, long end)
{
    private readonly long _start = start;

    private const int InitialBufferSize = 256 * 1024;

    private byte[] _buffer = new byte[InitialBufferSize];
    private long _bufferStart;
    private int _bufferLength;

    public long Position { get; private set; } = start;

    public long Remaining => end - Position;

    /// <summary>The next <paramref name="count"/> bytes, or false when the range ends before them.</summary>
    public bool TryPeek(int count, out ReadOnlySpan<byte> bytes)
    {
        if (count > Remaining)
        {
            bytes = default;
            return false;
        }
        var offset = Position - _bufferStart;
        if (offset < 0 || offset + count > _bufferLength)
        {
            Fill(count);
            offset = 0;
        }
        bytes = _buffer.AsSpan((int)offset, count);
        return true;
    }

    public void Advance(int count) => Position += count;

    /// <summary>Goes to <paramref name="position"/> (within the range), forward or back; the buffer is kept when it
    /// still holds the bytes there.</summary>
    public void MoveTo(long position) => Position = Math.Clamp(position, _start, end);

    private void Fill(int count)
    {
        if (count > _buffer.Length)
        {
            _buffer = new byte[Math.Max(count, _buffer.Length * 2)];
        }
        var wanted = (int)Math.Min(_buffer.Length, Remaining);
        var read = 0;
        while (read < wanted)
        {
            var n = RandomAccess.Read(handle, _buffer.AsSpan(read, wanted - read), Position + read);
            if (n == 0)
            {
                break;
            }
            read += n;
        }
        if (read < count)
        {
            throw new EndOfStreamException($"The file ended at {Position + read} while {count} bytes were wanted at {Position}.");
        }
        _bufferStart = Position;
        _bufferLength = read;
    }
}

using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// The stretch of a log file the reader is looking at, kept in one buffer and refilled by large sequential reads, so
/// that frames are checked and decoded where they lie instead of being copied out one read call at a time. Nothing
/// past the length the file had when reading began is read.
/// </summary>
internal sealed class LogReadWindow
{
    /// <summary>Bytes read per refill: large enough that the system calls cost nothing next to decoding the records.</summary>
    private const int ChunkSize = 4 << 20;

    private byte[] _buffer;
    private long _start;
    private int _filled;

    public LogReadWindow(SafeFileHandle file, long fileLength)
    {
        File = file;
        FileLength = fileLength;
        _buffer = new byte[(int)Math.Clamp(fileLength, 1, ChunkSize)];
    }

    public SafeFileHandle File { get; }

    public long FileLength { get; }

    /// <summary>The <paramref name="length"/> bytes at <paramref name="offset"/>, which must lie within the file; valid
    /// until the next call.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < _start || offset + length > _start + _filled)
        {
            Refill(offset, length);
        }
        return _buffer.AsSpan((int)(offset - _start), length);
    }

    /// <summary>Moves the window to start at <paramref name="offset"/>, keeping what it already holds from there on,
    /// and reads on until it holds <paramref name="length"/> bytes or more.</summary>
    private void Refill(long offset, int length)
    {
        var kept = offset >= _start && offset < _start + _filled ? (int)(_start + _filled - offset) : 0;
        var keptBytes = kept > 0 ? _buffer.AsSpan((int)(offset - _start), kept) : [];
        if (length > _buffer.Length)
        {
            var larger = new byte[Math.Max(length, _buffer.Length * 2)];
            keptBytes.CopyTo(larger);
            _buffer = larger;
        }
        else
        {
            keptBytes.CopyTo(_buffer);
        }
        _start = offset;
        _filled = kept;
        var wanted = (int)Math.Min(_buffer.Length, FileLength - offset);
        while (_filled < wanted)
        {
            var read = RandomAccess.Read(File, _buffer.AsSpan(_filled, wanted - _filled), _start + _filled);
            if (read == 0)
            {
                throw new EndOfStreamException($"the log ended at {_start + _filled} bytes while reading it ({FileLength} at the start)");
            }
            _filled += read;
        }
    }
}

using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// Appends framed records to a log file, one write call per record at an offset it tracks itself, so that a record
/// reaches the OS (and survives a process crash) as soon as <see cref="Append"/> returns. Not thread-safe: the owner
/// serializes calls.
/// </summary>
internal sealed class StreamLogWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    private byte[] _buffer = new byte[4096];

    private StreamLogWriter(SafeFileHandle handle, long length)
    {
        _handle = handle;
        Length = length;
    }

    /// <summary>The offset after the last whole record: where the next one goes.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Tests set this to act as a disk with that many bytes free: the write that does not fit writes what fits and
    /// then fails, as a real full disk does.
    /// </summary>
    internal long? SpaceLeft { get; set; }

    /// <summary>Creates (or empties) a log holding only the header.</summary>
    public static StreamLogWriter Create(string path)
    {
        var writer = new StreamLogWriter(Open(path, FileMode.Create), 0);
        try
        {
            Span<byte> header = stackalloc byte[StreamLogFormat.HeaderSize];
            StreamLogFormat.WriteHeader(header);
            writer.AppendBytes(header);
            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing log whose first <paramref name="length"/> bytes are whole records; later bytes are
    /// cut off.</summary>
    public static StreamLogWriter OpenAt(string path, long length)
    {
        var handle = Open(path, FileMode.Open);
        if (RandomAccess.GetLength(handle) != length)
        {
            RandomAccess.SetLength(handle, length);
        }
        return new StreamLogWriter(handle, length);
    }

    /// <summary>
    /// Writes one record. When the write fails the file is cut back to the last whole record, so that a partial frame
    /// never sits in front of later ones, and the exception propagates.
    /// </summary>
    public void Append(LogRecord record)
    {
        var size = StreamLogFormat.FrameHeaderSize + record.CalculateSize();
        if (_buffer.Length < size)
        {
            _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
        }
        var frame = _buffer.AsSpan(0, size);
        record.WriteTo(frame[StreamLogFormat.FrameHeaderSize..]);
        StreamLogFormat.SealFrame(frame);
        AppendBytes(frame);
    }

    /// <summary>Writes bytes that are already whole frames (compaction copying a log's tail).</summary>
    public void AppendBytes(ReadOnlySpan<byte> frames)
    {
        try
        {
            if (SpaceLeft is { } space && frames.Length > space)
            {
                RandomAccess.Write(_handle, frames[..(int)space], Length);
                throw new IOException("No space left on device (simulated)");
            }
            RandomAccess.Write(_handle, frames, Length);
            SpaceLeft -= frames.Length;
        }
        catch
        {
            CutPartialFrame();
            throw;
        }
        Length += frames.Length;
    }

    /// <summary>
    /// Removes what a failed write left after <see cref="Length"/>. If even that fails, the leftover stays beyond
    /// <see cref="Length"/>, where the next write covers it or replay cuts it as a torn tail; the write's own error is
    /// the one to report.
    /// </summary>
    private void CutPartialFrame()
    {
        try
        {
            RandomAccess.SetLength(_handle, Length);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Tests set this to make the next fsync fail as a disk's I/O error does.</summary>
    internal bool FailNextSync { get; set; }

    /// <summary>fsync: everything appended so far is on the disk when this returns.</summary>
    public void Sync()
    {
        if (FailNextSync)
        {
            FailNextSync = false;
            throw new IOException("Input/output error (simulated)");
        }
        RandomAccess.FlushToDisk(_handle);
    }

    public void Dispose() => _handle.Dispose();

    private static SafeFileHandle Open(string path, FileMode mode) => StreamLogFormat.OpenFile(path, mode, FileAccess.ReadWrite);
}

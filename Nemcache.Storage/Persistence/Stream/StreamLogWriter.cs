using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// Appends framed records to a log file at an offset it tracks itself. Records are framed into a buffer and reach the
/// file together, with one write call, at <see cref="WritePending"/> (a commit), so that a batch of changes costs one
/// system call instead of one per record; an append that fills the buffer (<see cref="PendingWrites.LimitBytes"/>) writes it
/// out at once. Not thread-safe: the owner serializes calls, except <see cref="SyncWritten"/>.
/// </summary>
internal sealed class StreamLogWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    // A compaction's snapshot goes through it too, so its bound holds there as well.
    private readonly PendingWrites _pending = new();

    private StreamLogWriter(SafeFileHandle handle, long length)
    {
        _handle = handle;
        Length = length;
    }

    /// <summary>The offset after the last whole record in the file: where the pending records go.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes of records appended but not written to the file yet.</summary>
    public int PendingBytes => _pending.Length;

    /// <summary>How many records <see cref="PendingBytes"/> holds.</summary>
    public int PendingRecords { get; private set; }

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
    /// Frames one record into the pending buffer; it reaches the file at the next <see cref="WritePending"/>, or now
    /// when the buffer has reached its bound. Returns whether it wrote the buffer out; a failed write throws as
    /// <see cref="WritePending"/> does, and this record is dropped with the others.
    /// </summary>
    public bool Append(LogRecord record)
    {
        var frame = _pending.Append(StreamLogFormat.FrameHeaderSize + record.CalculateSize());
        record.WriteTo(frame[StreamLogFormat.FrameHeaderSize..]);
        StreamLogFormat.SealFrame(frame);
        PendingRecords++;
        if (!_pending.IsFull)
        {
            return false;
        }
        WritePending();
        return true;
    }

    /// <summary>
    /// Writes the pending records with one write call. When the write fails, the file is cut back to the last whole
    /// record, so that a partial frame never sits in front of later ones; the pending records are dropped either way,
    /// and the exception propagates.
    /// </summary>
    public void WritePending()
    {
        if (PendingBytes == 0)
        {
            return;
        }
        try
        {
            Write(_pending.Bytes);
        }
        finally
        {
            _pending.Clear();
            PendingRecords = 0;
        }
    }

    /// <summary>Writes bytes that are already whole frames (compaction copying a log's tail), after the pending records.</summary>
    public void AppendBytes(ReadOnlySpan<byte> frames)
    {
        WritePending();
        Write(frames);
    }

    private void Write(ReadOnlySpan<byte> frames)
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

    /// <summary>Writes the pending records, then fsyncs: everything appended so far is on the disk when this returns.</summary>
    public void Sync()
    {
        WritePending();
        SyncWritten();
    }

    /// <summary>fsync of what is in the file, leaving the pending records alone: safe while the owner appends on
    /// another thread (group commit's fsync).</summary>
    public void SyncWritten()
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

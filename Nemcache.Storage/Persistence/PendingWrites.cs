namespace Nemcache.Storage.Persistence;

/// <summary>
/// The records a plugin has appended but not yet written to its file: both plugins collect a commit's records here so
/// that they reach the file with one write call instead of one per record (docs/persistence.md, "Writing"). The owner
/// writes <see cref="Bytes"/> out and then calls <see cref="Clear"/>; it writes them early once <see cref="IsFull"/>,
/// which is what bounds the buffer's memory. Not thread-safe: the owner serializes calls.
/// </summary>
public sealed class PendingWrites
{
    /// <summary>How many bytes of records may wait for a commit before they are written out anyway: the buffer's
    /// memory bound. A commit of 32 connections' 4 KiB sets fits in one write.</summary>
    public const int LimitBytes = 256 * 1024;

    private const int InitialBytes = 4096;

    // Allocated at the first append, so that a file that never takes one (Bitcask's immutable files) costs nothing.
    private byte[]? _buffer;

    /// <summary>Bytes waiting.</summary>
    public int Length { get; private set; }

    /// <summary>Whether the bytes waiting have reached <see cref="LimitBytes"/> and should be written now.</summary>
    public bool IsFull => Length >= LimitBytes;

    /// <summary>The bytes waiting, in append order.</summary>
    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, Length);

    /// <summary>Room for the next <paramref name="size"/> bytes after those waiting, counted as waiting; the caller
    /// fills all of it.</summary>
    public Span<byte> Append(int size)
    {
        _buffer ??= new byte[Math.Max(InitialBytes, size)];
        if (_buffer.Length - Length < size)
        {
            Array.Resize(ref _buffer, Math.Max(Length + size, _buffer.Length * 2));
        }
        var room = _buffer.AsSpan(Length, size);
        Length += size;
        return room;
    }

    /// <summary>Forgets the bytes waiting (written, or dropped with a failed write). A huge record that grew the buffer
    /// past the bound does not keep its memory for the next commit.</summary>
    public void Clear()
    {
        Length = 0;
        if (_buffer is { Length: > LimitBytes })
        {
            _buffer = null;
        }
    }
}

using System.Runtime.CompilerServices;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Serves reads that move forward through a data file from one large buffer, so that loading every live value at
/// startup (in file and offset order) costs one read per window rather than one per record.
/// </summary>
internal sealed class ReadWindow
{
    /// <summary>Large enough that a million 100-byte records take about 140 reads, small enough to stay cheap.</summary>
    private const int WindowBytes = 1024 * 1024;

    private byte[] _buffer = new byte[WindowBytes];
    private DataFile? _file;
    private long _start;
    private int _length;

    /// <summary>The <paramref name="size"/> bytes at <paramref name="offset"/> of <paramref name="file"/>; valid until the next call.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public ReadOnlySpan<byte> Read(DataFile file, long offset, int size)
    {
        if (!ReferenceEquals(file, _file) || offset < _start || offset + size > _start + _length)
        {
            if (_buffer.Length < size)
            {
                _buffer = new byte[size];
            }
            _file = null;
            _length = file.ReadAtMost(_buffer, offset);
            _file = file;
            _start = offset;
            if (_length < size)
            {
                throw new EndOfStreamException($"{file.Path} ends before offset {offset + size}.");
            }
        }
        return _buffer.AsSpan((int)(offset - _start), size);
    }
}

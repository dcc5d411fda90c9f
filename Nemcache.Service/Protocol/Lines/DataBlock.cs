using System.Buffers;
using Nemcache.Storage.Cache;

namespace Nemcache.Service.Protocol.Lines;

/// <summary>How reading a data block went.</summary>
internal enum DataBlockStatus
{
    /// <summary>Not all of it has arrived; nothing was taken from the input.</summary>
    Incomplete,
    /// <summary>Taken from the input, but it does not end in CRLF: memcached answers "bad data chunk".</summary>
    Malformed,
    /// <summary>Taken from the input, and its bytes copied into a new value array the cache will own.</summary>
    Complete,
}

/// <summary>
/// The data block a storage command (set and its kin, ms) sends after its line: the declared number of bytes, then
/// CRLF. The copy into a new array is the only allocation a store makes on the request path.
/// </summary>
internal static class DataBlock
{
    /// <summary>The largest length a command may declare: the block and its CRLF must fit an int.</summary>
    public const int MaxLength = int.MaxValue - 2;

    /// <summary>How many bytes of input a block of <paramref name="length"/> takes: what a refused command discards.</summary>
    public static long InputBytes(int length) => length + 2;

    /// <summary>Takes the block of <paramref name="length"/> bytes and its CRLF off the front of <paramref name="rest"/>.</summary>
    public static DataBlockStatus TryRead(ref ReadOnlySequence<byte> rest, int length, out byte[] value)
    {
        value = [];
        var blockLength = length + 2;
        if (rest.Length < blockLength)
        {
            return DataBlockStatus.Incomplete;
        }
        var block = rest.Slice(0, blockLength);
        rest = rest.Slice(blockLength);
        Span<byte> tail = stackalloc byte[2];
        block.Slice(length).CopyTo(tail);
        if (tail[0] != (byte)'\r' || tail[1] != (byte)'\n')
        {
            return DataBlockStatus.Malformed;
        }
        value = ValueArrays.Allocate(length);
        block.Slice(0, length).CopyTo(value);
        return DataBlockStatus.Complete;
    }
}

using System.Buffers;
using Nemcache.Service.Protocol.Binary;
using Nemcache.Service.Protocol.Text;

namespace Nemcache.Service.Protocol;

/// <summary>
/// One connection's protocol: runs every complete request at the front of the input and writes the replies, so that
/// the connection loop is the same for every protocol (process, commit, flush).
/// </summary>
internal interface IProtocolProcessor
{
    /// <summary>
    /// Runs every complete request at the front of <paramref name="input"/> and slices it past them. A request that has
    /// not fully arrived is left in the input for the next call.
    /// </summary>
    ProcessOutcome Process(ref ReadOnlySequence<byte> input, IBufferWriter<byte> output);

    /// <summary>
    /// The processor for a new connection, chosen by its first byte as memcached does: 0x80 (the binary request magic)
    /// starts a binary connection, anything else a text one (which also carries the meta commands).
    /// </summary>
    static IProtocolProcessor ForFirstBytes(in ReadOnlySequence<byte> input, ServerContext context)
    {
        // Copied rather than read from FirstSpan: a sliced sequence may start with an empty segment.
        Span<byte> first = stackalloc byte[1];
        if (!input.IsEmpty)
        {
            input.Slice(0, 1).CopyTo(first);
        }
        return !input.IsEmpty && first[0] == BinaryHeader.RequestMagic
            ? new BinaryProtocolProcessor(context)
            : new TextProtocolProcessor(context);
    }
}

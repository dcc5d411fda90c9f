using System.Buffers;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Binary;
using Nemcache.Service.Protocol.Text;

namespace Nemcache.Service.Hosting;

/// <summary>
/// Chooses a new connection's protocol by its first byte, as memcached does ("binding_protocol auto-negotiate"): 0x80,
/// the binary request magic, starts a binary connection, anything else a text one (which also carries the meta
/// commands). The one place that knows every protocol, so that the network layer and the protocols know none of each
/// other.
/// </summary>
internal sealed class ProtocolNegotiation(ServerContext context) : IProtocolProcessorFactory
{
    public IProtocolProcessor ForFirstBytes(in ReadOnlySequence<byte> input)
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

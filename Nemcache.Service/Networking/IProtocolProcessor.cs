using System.Buffers;

namespace Nemcache.Service.Networking;

/// <summary>
/// One connection's protocol, as the connection loop sees it: runs every complete request at the front of the input
/// and writes the replies, so that the loop is the same for every protocol (process, commit, flush). The network layer
/// knows no protocol beyond this; <see cref="IProtocolProcessorFactory"/> gives it one per connection.
/// </summary>
internal interface IProtocolProcessor
{
    /// <summary>
    /// Runs every complete request at the front of <paramref name="input"/> and slices it past them. A request that has
    /// not fully arrived is left in the input for the next call.
    /// </summary>
    ProcessOutcome Process(ref ReadOnlySequence<byte> input, IBufferWriter<byte> output);
}

/// <summary>Makes the processor of a new connection once its first bytes have arrived.</summary>
internal interface IProtocolProcessorFactory
{
    /// <param name="input">What the connection has sent so far: at least one byte, unless it closed at once.</param>
    IProtocolProcessor ForFirstBytes(in ReadOnlySequence<byte> input);
}

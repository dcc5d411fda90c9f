using System.Buffers;
using System.IO.Pipelines;

namespace Nemcache.Service.Networking;

/// <summary>
/// The replies a connection has written but not yet sent, and the bound on them. A client that sends small requests
/// with large replies (a multi-key get of a big value, or a pipeline of gets) and does not read them would otherwise
/// make the server hold every reply at once. Like memcached, which writes as it goes and stops reading a connection
/// whose output backs up, a processor stops running commands, even between the keys of one multi-key command, once
/// the backlog reaches <see cref="PauseAtBytes"/>; the connection then flushes, waits for the socket to take the bytes,
/// and only then lets the processor go on. A connection so holds at most this bound plus one reply (one item's value).
/// </summary>
internal static class ReplyBacklog
{
    /// <summary>
    /// Large enough that a batch of ordinary replies goes out in one flush; small next to one item's reply,
    /// so that the item size limit (-I) dominates what a connection can hold.
    /// </summary>
    public const int PauseAtBytes = 64 * 1024;

    /// <summary>
    /// Whether the processor must stop before its next reply. Only a pipe can say how much it holds unsent; an output
    /// that cannot (a test's in-memory buffer) is never paused.
    /// </summary>
    public static bool IsFull(IBufferWriter<byte> output) =>
        output is PipeWriter { CanGetUnflushedBytes: true } pipe && pipe.UnflushedBytes >= PauseAtBytes;
}

using System.Buffers;

namespace Nemcache.Service.Protocol.Lines;

/// <summary>
/// memcached's text-protocol reply lines, byte for byte as memcached 1.6 sends them, shared by the text, meta and stats
/// commands; and the two rules of when a reply is sent.
/// </summary>
internal static class TextReplies
{
    public static ReadOnlySpan<byte> Stored => "STORED\r\n"u8;
    public static ReadOnlySpan<byte> NotStored => "NOT_STORED\r\n"u8;
    public static ReadOnlySpan<byte> Exists => "EXISTS\r\n"u8;
    public static ReadOnlySpan<byte> NotFound => "NOT_FOUND\r\n"u8;
    public static ReadOnlySpan<byte> Deleted => "DELETED\r\n"u8;
    public static ReadOnlySpan<byte> Touched => "TOUCHED\r\n"u8;
    public static ReadOnlySpan<byte> End => "END\r\n"u8;
    public static ReadOnlySpan<byte> Ok => "OK\r\n"u8;
    public static ReadOnlySpan<byte> Reset => "RESET\r\n"u8;
    public static ReadOnlySpan<byte> Error => "ERROR\r\n"u8;
    public static ReadOnlySpan<byte> BadCommandLine => "CLIENT_ERROR bad command line format\r\n"u8;
    public static ReadOnlySpan<byte> BadDataChunk => "CLIENT_ERROR bad data chunk\r\n"u8;
    public static ReadOnlySpan<byte> InvalidExptime => "CLIENT_ERROR invalid exptime argument\r\n"u8;
    public static ReadOnlySpan<byte> InvalidDelta => "CLIENT_ERROR invalid numeric delta argument\r\n"u8;
    public static ReadOnlySpan<byte> NonNumeric => "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"u8;
    public static ReadOnlySpan<byte> DeleteUsage => "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"u8;
    public static ReadOnlySpan<byte> StatsDetailUsage => "CLIENT_ERROR usage: stats detail on|off|dump\r\n"u8;
    public static ReadOnlySpan<byte> TooLarge => "SERVER_ERROR object too large for cache\r\n"u8;
    public static ReadOnlySpan<byte> PersistenceFailed => "SERVER_ERROR persistence failed\r\n"u8;
    public static ReadOnlySpan<byte> Value => "VALUE "u8;
    public static ReadOnlySpan<byte> Stat => "STAT "u8;
    public static ReadOnlySpan<byte> Version => "VERSION "u8;
    public static ReadOnlySpan<byte> NoReply => "noreply"u8;
    public static ReadOnlySpan<byte> NewLine => "\r\n"u8;

    /// <summary>Writes <paramref name="reply"/> unless the command asked for noreply.</summary>
    public static void Reply(IBufferWriter<byte> output, ReadOnlySpan<byte> reply, bool noreply)
    {
        if (!noreply)
        {
            output.Write(reply);
        }
    }

    /// <summary>
    /// The reply to a change the cache refused (<see cref="Nemcache.Storage.Cache.MemCache.RefuseChangesWhile"/>:
    /// persistence cannot write). It is sent even under noreply, so that a client learns its write was not made.
    /// </summary>
    public static void WriteRefused(IBufferWriter<byte> output) => output.Write(PersistenceFailed);
}

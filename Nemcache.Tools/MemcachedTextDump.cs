using System.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Tools;

/// <summary>
/// Writes items as memcached text-protocol commands that store them, so that a dump loads into any memcached 1.6 (or
/// Nemcache) through a plain socket: <c>set KEY FLAGS EXPTIME BYTES</c> and the value. A key the text protocol cannot
/// carry (it holds a space or a control byte, as binary-protocol keys may) goes as a meta set with its key in base64:
/// <c>ms BASE64KEY BYTES b F<i>flags</i> T<i>exptime</i></c>. The exptime is the item's absolute unix second (0 for
/// never), which the protocol reads as absolute because it is above 30 days: the item expires when it would have,
/// whenever the dump is loaded.
/// </summary>
internal static class MemcachedTextDump
{
    private static readonly byte[] LineEnd = "\r\n"u8.ToArray();

    public static long Write(Stream output, IEnumerable<LiveItem> items)
    {
        long written = 0;
        foreach (var item in items)
        {
            var command = IsTextKey(item.Key)
                ? $"set {Encoding.Latin1.GetString(item.Key)} {item.Flags} {item.ExpiresAt} {item.Value.Length}\r\n"
                : $"ms {Convert.ToBase64String(item.Key)} {item.Value.Length} b F{item.Flags} T{item.ExpiresAt}\r\n";
            output.Write(Encoding.Latin1.GetBytes(command));
            output.Write(item.Value);
            output.Write(LineEnd);
            written++;
        }
        output.Flush();
        return written;
    }

    /// <summary>A key the text protocol's tokenizer keeps whole: no space, no control byte, at most 250 bytes.</summary>
    private static bool IsTextKey(ReadOnlySpan<byte> key) =>
        key.Length is > 0 and <= CacheLimits.MaxKeyLength && !key.ContainsAnyInRange((byte)0, (byte)' ') && !key.Contains((byte)0x7F);
}

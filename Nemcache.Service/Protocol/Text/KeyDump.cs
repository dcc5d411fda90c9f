using System.Buffers;
using Nemcache.Service.Protocol.Stats;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// The two key listings memcached offers, in its exact formats, which `memcdump`, `memcached-tool … keys|dump` and
/// php-memcached's getAllKeys() parse: `stats cachedump` (the most recently used keys of a class, raw) and
/// `lru_crawler metadump` (every key with its metadata, URL-encoded).
/// </summary>
internal static class KeyDump
{
    /// <summary>memcached caps a cachedump reply at 2 MiB, END included.</summary>
    private const int CachedumpReplyLimit = 2 * 1024 * 1024;

    /// <summary>The shortest cachedump line ("ITEM k [0 b; 0 s]\r\n"): bounds how many items can fit the cap.</summary>
    private const int ShortestCachedumpLine = 19;

    /// <summary>"ITEM ", " [", a 10-digit length, " b; ", a 20-digit expiry and " s]\r\n".</summary>
    private const int MaxCachedumpLineBeyondKey = 46;

    /// <summary>`ITEM key [N b; T s]` per item, most recently used first; <paramref name="limit"/> 0 means all that
    /// fit the reply cap. T is the absolute expiry in unix seconds, 0 for never.</summary>
    public static void WriteCachedump(MemCache cache, long limit, IBufferWriter<byte> output)
    {
        var fits = CachedumpReplyLimit / ShortestCachedumpLine;
        var items = cache.MostRecentlyUsed(limit == 0 ? fits : (int)Math.Min(limit, fits));
        var written = 0;
        foreach (var item in items)
        {
            var start = output.GetSpan(item.Key.Length + MaxCachedumpLineBeyondKey);
            var span = start;
            Append(ref span, "ITEM "u8);
            Append(ref span, item.Key);
            Append(ref span, " ["u8);
            AppendNumber(ref span, item.ValueLength);
            Append(ref span, " b; "u8);
            AppendNumber(ref span, item.ExpiresAt);
            Append(ref span, " s]\r\n"u8);
            var length = start.Length - span.Length;
            if (written + length + End.Length > CachedumpReplyLimit)
            {
                break;
            }
            output.Advance(length);
            written += length;
        }
        output.Write(End);
    }

    /// <summary>`key=… exp=… la=… cas=… fetch=… cls=… size=…` per live item, each line ending in a bare newline as
    /// memcached's crawler writes them, then END. exp is -1 for never.</summary>
    public static void WriteMetadump(MemCache cache, IBufferWriter<byte> output)
    {
        cache.VisitSummaries(item =>
        {
            var start = output.GetSpan(item.Key.Length * 3 + 128);
            var span = start;
            Append(ref span, "key="u8);
            foreach (var b in item.Key)
            {
                if (IsUnreserved(b))
                {
                    span[0] = b;
                    span = span[1..];
                }
                else
                {
                    span[0] = (byte)'%';
                    span[1] = HexDigit(b >> 4);
                    span[2] = HexDigit(b & 0xF);
                    span = span[3..];
                }
            }
            Append(ref span, " exp="u8);
            AppendNumber(ref span, item.ExpiresAt == 0 ? -1 : item.ExpiresAt);
            Append(ref span, " la="u8);
            AppendNumber(ref span, item.LastAccessedAt);
            Append(ref span, " cas="u8);
            AppendNumber(ref span, item.Cas);
            Append(ref span, item.Fetched ? " fetch=yes"u8 : " fetch=no"u8);
            Append(ref span, " cls="u8);
            AppendNumber(ref span, PseudoSlabClass.Id);
            Append(ref span, " size="u8);
            AppendNumber(ref span, item.Footprint);
            Append(ref span, "\n"u8);
            output.Advance(start.Length - span.Length);
        });
        output.Write(End);
    }

    /// <summary>What memcached's uriencode leaves as it is: letters, digits and - . _ ~ (RFC 3986's unreserved).</summary>
    private static bool IsUnreserved(byte b) =>
        b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
            or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~';

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'A' + nibble - 10);

    private static void Append(ref Span<byte> span, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(span);
        span = span[bytes.Length..];
    }

    private static void AppendNumber(ref Span<byte> span, long value)
    {
        System.Buffers.Text.Utf8Formatter.TryFormat(value, span, out var written);
        span = span[written..];
    }

    private static void AppendNumber(ref Span<byte> span, ulong value)
    {
        System.Buffers.Text.Utf8Formatter.TryFormat(value, span, out var written);
        span = span[written..];
    }
}

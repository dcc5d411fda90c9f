using System.Buffers.Text;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// Walks the space-separated tokens of one command line, as memcached's tokenizer does: only the space byte separates,
/// runs of spaces count as one, and every other byte (control bytes included) belongs to a token.
/// </summary>
internal ref struct TextTokens(ReadOnlySpan<byte> line)
{
    private ReadOnlySpan<byte> _rest = line;

    public bool TryNext(out ReadOnlySpan<byte> token)
    {
        var start = 0;
        while (start < _rest.Length && _rest[start] == (byte)' ')
        {
            start++;
        }
        if (start == _rest.Length)
        {
            token = default;
            _rest = default;
            return false;
        }
        var rest = _rest[start..];
        var end = rest.IndexOf((byte)' ');
        if (end < 0)
        {
            token = rest;
            _rest = default;
        }
        else
        {
            token = rest[..end];
            _rest = rest[end..];
        }
        return true;
    }

    /// <summary>Counts the tokens of a line without consuming anything.</summary>
    public static int Count(ReadOnlySpan<byte> line)
    {
        var count = 0;
        var inToken = false;
        foreach (var b in line)
        {
            var isSpace = b == (byte)' ';
            if (!isSpace && !inToken)
            {
                count++;
            }
            inToken = !isSpace;
        }
        return count;
    }

    /// <summary>memcached's safe_strtoull: an optional '+', then decimal digits, the whole token, no overflow.</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> token, out ulong value)
    {
        if (token.Length > 0 && token[0] == (byte)'+')
        {
            token = token[1..];
        }
        value = 0;
        return token.Length > 0 && token[0] != (byte)'-' && token[0] != (byte)'+'
            && Utf8Parser.TryParse(token, out value, out var consumed) && consumed == token.Length;
    }

    /// <summary>memcached's safe_strtol: an optional sign, then decimal digits, the whole token, no overflow.</summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> token, out long value)
    {
        var negative = token.Length > 0 && token[0] == (byte)'-';
        if (token.Length > 0 && (token[0] == (byte)'+' || negative))
        {
            token = token[1..];
        }
        value = 0;
        if (token.Length == 0 || token[0] == (byte)'-' || token[0] == (byte)'+'
            || !Utf8Parser.TryParse(token, out ulong magnitude, out var consumed) || consumed != token.Length)
        {
            return false;
        }
        if (negative ? magnitude > (ulong)long.MaxValue + 1 : magnitude > long.MaxValue)
        {
            return false;
        }
        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>
    /// Client flags: parsed as memcached 1.6 does, as a 64-bit number kept to its low 32 bits
    /// (so 4294967296 stores flags 0, exactly as memcached 1.6.18 answers).
    /// </summary>
    public static bool TryParseFlags(ReadOnlySpan<byte> token, out uint flags)
    {
        var ok = TryParseUInt64(token, out var wide);
        flags = unchecked((uint)wide);
        return ok;
    }
}

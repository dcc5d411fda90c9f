namespace Nemcache.Service.Protocol.Lines;

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

    /// <summary>memcached's safe_strtoull: a 64-bit unsigned number, read as <see cref="TryParseC"/> reads one, where a
    /// '-' is accepted only when the result does not look negative as a signed number ("-0").</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> token, out ulong value)
    {
        value = 0;
        if (!TryParseC(token, signed: false, out var bits) || ((long)bits < 0 && token.Contains((byte)'-')))
        {
            return false;
        }
        value = bits;
        return true;
    }

    /// <summary>
    /// memcached's safe_strtol, for lengths, exptimes and delays: read as a 64-bit signed number, then kept to its low
    /// 32 bits, as memcached stores it in an int32 (so 4294967296 is 0, and 4294967295 is -1).
    /// </summary>
    public static bool TryParseInt32(ReadOnlySpan<byte> token, out int value)
    {
        value = 0;
        if (!TryParseC(token, signed: true, out var bits))
        {
            return false;
        }
        value = unchecked((int)bits);
        return true;
    }

    /// <summary>
    /// Client flags, and verbosity's level: memcached's safe_strtoul, which on a 64-bit build reads as
    /// <see cref="TryParseUInt64"/> and keeps the low 32 bits (so 4294967296 stores flags 0, as memcached 1.6.18 does).
    /// </summary>
    public static bool TryParseFlags(ReadOnlySpan<byte> token, out uint flags)
    {
        var ok = TryParseUInt64(token, out var wide);
        flags = unchecked((uint)wide);
        return ok;
    }

    /// <summary>
    /// The C library's strtoll or strtoull in base 10, as memcached's safe_strto* call it: whitespace other than the
    /// space (which the tokenizer splits on: tab, CR, vertical tab, form feed) is skipped first, an optional sign,
    /// then at least one digit; the number must end the token or be followed by whitespace. A value past 64 bits (or
    /// past the signed range, when <paramref name="signed"/>) fails, as strto* sets ERANGE. A '-' negates, wrapping
    /// as strtoull does.
    /// </summary>
    private static bool TryParseC(ReadOnlySpan<byte> token, bool signed, out ulong bits)
    {
        bits = 0;
        var at = 0;
        while (at < token.Length && IsCSpace(token[at]))
        {
            at++;
        }
        var negative = false;
        if (at < token.Length && token[at] is (byte)'+' or (byte)'-')
        {
            negative = token[at] == (byte)'-';
            at++;
        }
        var digits = at;
        ulong magnitude = 0;
        var overflow = false;
        for (; at < token.Length && token[at] is >= (byte)'0' and <= (byte)'9'; at++)
        {
            var digit = (ulong)(token[at] - '0');
            overflow |= magnitude > (ulong.MaxValue - digit) / 10;
            magnitude = unchecked(magnitude * 10 + digit);
        }
        if (at == digits || (at < token.Length && !IsCSpace(token[at])))
        {
            return false;
        }
        if (signed)
        {
            overflow |= negative ? magnitude > (ulong)long.MaxValue + 1 : magnitude > long.MaxValue;
        }
        if (overflow)
        {
            return false;
        }
        bits = negative ? unchecked(0 - magnitude) : magnitude;
        return true;
    }

    /// <summary>C's isspace in the C locale.</summary>
    private static bool IsCSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';
}

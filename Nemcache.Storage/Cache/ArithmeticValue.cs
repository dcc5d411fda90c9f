using System.Buffers.Text;

namespace Nemcache.Storage.Cache;

/// <summary>
/// incr and decr's view of a value: memcached's strtoull rule for reading it as a number, and the in-place update's
/// rule for writing the result back.
/// </summary>
internal static class ArithmeticValue
{
    /// <summary>Digits of a number below 2^64, optionally followed by the spaces an in-place decr left.</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out ulong number)
    {
        var digits = value.TrimEnd((byte)' ');
        number = 0;
        return digits.Length > 0 && Utf8Parser.TryParse(digits, out number, out var consumed) && consumed == digits.Length;
    }

    /// <summary>The number's digits, padded with spaces to <paramref name="minLength"/> (the old value's length).</summary>
    public static byte[] Format(ulong number, int minLength)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(number, digits, out var written);
        var value = new byte[Math.Max(written, minLength)];
        digits[..written].CopyTo(value);
        value.AsSpan(written).Fill((byte)' ');
        return value;
    }
}

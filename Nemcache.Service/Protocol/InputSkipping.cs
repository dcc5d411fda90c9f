using System.Buffers;

namespace Nemcache.Service.Protocol;

/// <summary>
/// Discarding a refused body or data block as it arrives (memcached's "swallow"), so that it is never buffered whole.
/// </summary>
internal static class InputSkipping
{
    /// <summary>
    /// Slices up to <paramref name="remaining"/> bytes off the front of <paramref name="input"/> and counts them off.
    /// Returns false while some of them have still to arrive.
    /// </summary>
    public static bool SkipPending(ref long remaining, ref ReadOnlySequence<byte> input)
    {
        if (remaining == 0)
        {
            return true;
        }
        var skip = Math.Min(remaining, input.Length);
        input = input.Slice(skip);
        remaining -= skip;
        return remaining == 0;
    }
}

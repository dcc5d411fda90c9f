using System.Buffers;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>delete, incr, decr and touch: the commands on one key that carry no data block.</summary>
internal static class TextKeyCommands
{
    /// <summary>delete &lt;key&gt; [0] [noreply]: memcached still accepts a hold time of 0 and rejects any other.</summary>
    public static CommandStatus Delete(MemCache cache, ref TextTokens tokens, int arguments,
        IBufferWriter<byte> output, ref bool mutated)
    {
        if (arguments is < 1 or > 3)
        {
            output.Write(Error);
            return CommandStatus.Done;
        }
        tokens.TryNext(out var key);
        var noreply = false;
        if (arguments > 1)
        {
            tokens.TryNext(out var second);
            var holdIsZero = second.SequenceEqual("0"u8);
            ReadOnlySpan<byte> last = second;
            if (arguments == 3)
            {
                tokens.TryNext(out last);
            }
            noreply = last.SequenceEqual(NoReply);
            var valid = arguments == 2 ? holdIsZero || noreply : holdIsZero && noreply;
            if (!valid)
            {
                Reply(output, DeleteUsage, noreply);
                return CommandStatus.Done;
            }
        }
        if (key.Length > CacheLimits.MaxKeyLength)
        {
            Reply(output, BadCommandLine, noreply);
            return CommandStatus.Done;
        }

        var result = cache.Delete(key);
        mutated |= result == DeleteResult.Deleted;
        if (result == DeleteResult.Refused)
        {
            WriteRefused(output);
            return CommandStatus.Done;
        }
        Reply(output, result == DeleteResult.Deleted ? Deleted : NotFound, noreply);
        return CommandStatus.Done;
    }

    /// <summary>
    /// The line shape incr, decr and touch share: &lt;command&gt; &lt;key&gt; &lt;argument&gt; [noreply]. False, with memcached's
    /// reply written, when the token count or the key is wrong.
    /// </summary>
    private static bool TryReadKeyAndArgument(ref TextTokens tokens, int arguments, IBufferWriter<byte> output,
        out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> argument, out bool noreply)
    {
        key = argument = default;
        noreply = false;
        if (arguments is not (2 or 3))
        {
            output.Write(Error);
            return false;
        }
        tokens.TryNext(out key);
        tokens.TryNext(out argument);
        // memcached's noreply is whatever the last token says, even when that token is the argument.
        noreply = (tokens.TryNext(out var last) ? last : argument).SequenceEqual(NoReply);
        if (key.Length > CacheLimits.MaxKeyLength)
        {
            Reply(output, BadCommandLine, noreply);
            return false;
        }
        return true;
    }

    public static CommandStatus Arithmetic(MemCache cache, ref TextTokens tokens, int arguments, bool decrement,
        IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryReadKeyAndArgument(ref tokens, arguments, output, out var key, out var deltaToken, out var noreply))
        {
            return CommandStatus.Done;
        }
        if (!TextTokens.TryParseUInt64(deltaToken, out var delta))
        {
            Reply(output, InvalidDelta, noreply);
            return CommandStatus.Done;
        }

        switch (cache.Increment(key, delta, decrement, out var item))
        {
            case ArithmeticResult.Updated:
                mutated = true;
                if (!noreply)
                {
                    output.Write(item.Value.AsSpan().TrimEnd((byte)' '));
                    output.Write(NewLine);
                }
                break;
            case ArithmeticResult.NonNumeric:
                Reply(output, NonNumeric, noreply);
                break;
            case ArithmeticResult.Refused:
                WriteRefused(output);
                break;
            default:
                Reply(output, NotFound, noreply);
                break;
        }
        return CommandStatus.Done;
    }

    public static CommandStatus Touch(MemCache cache, ref TextTokens tokens, int arguments,
        IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryReadKeyAndArgument(ref tokens, arguments, output, out var key, out var exptimeToken, out var noreply))
        {
            return CommandStatus.Done;
        }
        if (!TextTokens.TryParseInt32(exptimeToken, out var exptime))
        {
            Reply(output, InvalidExptime, noreply);
            return CommandStatus.Done;
        }

        var result = cache.Touch(key, exptime);
        mutated |= result == TouchResult.Touched;
        if (result == TouchResult.Refused)
        {
            WriteRefused(output);
            return CommandStatus.Done;
        }
        Reply(output, result == TouchResult.Touched ? Touched : NotFound, noreply);
        return CommandStatus.Done;
    }
}

using System.Buffers;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>flush_all, version and verbosity: the commands on the whole server.</summary>
internal static class TextAdminCommands
{
    /// <summary>flush_all [delay] [noreply]. A token after the delay that is not noreply is ignored, as memcached does.</summary>
    public static CommandStatus FlushAll(MemCache cache, ref TextTokens tokens, int arguments,
        IBufferWriter<byte> output, ref bool mutated)
    {
        if (arguments > 2)
        {
            output.Write(Error);
            return CommandStatus.Done;
        }
        var delay = 0;
        var noreply = false;
        if (arguments > 0)
        {
            tokens.TryNext(out var first);
            if (arguments == 1 && first.SequenceEqual(NoReply))
            {
                noreply = true;
            }
            else
            {
                noreply = arguments == 2 && tokens.TryNext(out var last) && last.SequenceEqual(NoReply);
                if (!TextTokens.TryParseInt32(first, out delay))
                {
                    Reply(output, InvalidExptime, noreply);
                    return CommandStatus.Done;
                }
            }
        }

        if (!cache.FlushAll(delay))
        {
            WriteRefused(output);
            return CommandStatus.Done;
        }
        mutated = true;
        Reply(output, Ok, noreply);
        return CommandStatus.Done;
    }

    /// <summary>version: memcached ignores any tokens after it.</summary>
    public static CommandStatus Version(IBufferWriter<byte> output)
    {
        output.Write(TextReplies.Version);
        ReplyWriter.WriteAscii(output, ServerContext.Version);
        output.Write(NewLine);
        return CommandStatus.Done;
    }

    public static CommandStatus Verbosity(ServerContext context, ref TextTokens tokens, int arguments,
        IBufferWriter<byte> output)
    {
        if (arguments is not (1 or 2))
        {
            output.Write(Error);
            return CommandStatus.Done;
        }
        // memcached's noreply is whatever the last token says, even when it is the only one.
        tokens.TryNext(out var levelToken);
        var last = tokens.TryNext(out var second) ? second : levelToken;
        var noreply = last.SequenceEqual(NoReply);
        if (!TextTokens.TryParseFlags(levelToken, out var level))
        {
            Reply(output, BadCommandLine, noreply);
            return CommandStatus.Done;
        }
        context.Verbosity = (int)Math.Min(level, int.MaxValue);
        Reply(output, Ok, noreply);
        return CommandStatus.Done;
    }
}

using System.Buffers;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// get, gets, gat and gats (and bget): every key is checked before any is answered, so an error never follows half a
/// reply. When the replies back up the command pauses between keys and goes on at the next call, which finds the same
/// line at the front of the input; the processor keeps only where its unanswered keys begin.
/// </summary>
internal static class TextRetrievalCommands
{
    /// <param name="resumeKeysAt">Where in <paramref name="line"/> the unanswered keys of a paused retrieval begin; 0
    /// when none is paused. Set when this call pauses, cleared when it resumes.</param>
    public static CommandStatus Retrieve(MemCache cache, ReadOnlySpan<byte> line, ref TextTokens tokens, int arguments,
        bool withCas, bool touch, ref int resumeKeysAt, IBufferWriter<byte> output, ref bool mutated)
    {
        var exptime = 0;
        if (touch)
        {
            if (arguments < 1)
            {
                output.Write(Error);
                return CommandStatus.Done;
            }
            tokens.TryNext(out var exptimeToken);
            if (!TextTokens.TryParseInt32(exptimeToken, out exptime))
            {
                output.Write(InvalidExptime);
                return CommandStatus.Done;
            }
        }
        else if (arguments < 1)
        {
            output.Write(Error);
            return CommandStatus.Done;
        }
        if (resumeKeysAt > 0)
        {
            // Its keys were checked, and the command admitted, before its first reply.
            var remaining = new TextTokens(line[resumeKeysAt..]);
            resumeKeysAt = 0;
            return AnswerKeys(cache, line, ref remaining, exptime, withCas, touch, first: false, ref resumeKeysAt, output, ref mutated);
        }

        var check = tokens;
        while (check.TryNext(out var key))
        {
            if (key.Length > CacheLimits.MaxKeyLength)
            {
                output.Write(BadCommandLine);
                return CommandStatus.Done;
            }
        }

        return AnswerKeys(cache, line, ref tokens, exptime, withCas, touch, first: true, ref resumeKeysAt, output, ref mutated);
    }

    /// <param name="first">Whether no key has been answered yet: only then can a refusal be the whole reply.</param>
    private static CommandStatus AnswerKeys(MemCache cache, ReadOnlySpan<byte> line, ref TextTokens keys, long exptime,
        bool withCas, bool touch, bool first, ref int resumeKeysAt, IBufferWriter<byte> output, ref bool mutated)
    {
        while (keys.TryNext(out var key))
        {
            CacheItem item;
            var result = touch ? cache.TryGetAndTouch(key, exptime, out item) : cache.TryGet(key, out item) ? ReadResult.Hit : ReadResult.Miss;
            if (result == ReadResult.Refused && first)
            {
                WriteRefused(output);
                return CommandStatus.Done;
            }
            first = false;
            // A refusal that begins after the first key (persistence failed meanwhile) leaves that key untouched and
            // unanswered, as a miss, rather than end half a reply with an error.
            if (result != ReadResult.Hit)
            {
                continue;
            }
            mutated |= touch;
            WriteValue(output, key, item, withCas);
            if (ReplyBacklog.IsFull(output))
            {
                line.Overlaps(key, out var keyAt);
                resumeKeysAt = keyAt + key.Length;
                return CommandStatus.Paused;
            }
        }
        output.Write(End);
        return CommandStatus.Done;
    }

    private static void WriteValue(IBufferWriter<byte> output, ReadOnlySpan<byte> key, in CacheItem item, bool withCas)
    {
        output.Write(Value);
        output.Write(key);
        output.Write(" "u8);
        ReplyWriter.WriteNumber(output, (ulong)item.Flags);
        output.Write(" "u8);
        ReplyWriter.WriteNumber(output, (ulong)item.Value.Length);
        if (withCas)
        {
            output.Write(" "u8);
            ReplyWriter.WriteNumber(output, item.Cas);
        }
        output.Write(NewLine);
        output.Write(item.Value);
        output.Write(NewLine);
    }
}

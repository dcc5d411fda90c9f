using System.Buffers;
using Nemcache.Service.Protocol.Meta;
using Nemcache.Service.Protocol.Stats;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Text.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// memcached's text protocol for one connection: frames command lines and data blocks out of the input, runs each
/// command against the cache and writes its reply into the output, with memcached 1.6's replies for every error.
/// Stateful only across a rejected data block that is still arriving (the bytes to swallow), and across a multi-key
/// retrieval paused for its replies to drain (where its remaining keys begin).
/// </summary>
internal sealed class TextProtocolProcessor(ServerContext context) : IProtocolProcessor
{
    /// <summary>memcached reads into a 16 KiB buffer and closes a connection whose line does not fit.</summary>
    public const int MaxCommandLine = 16 * 1024;

    /// <summary>
    /// memcached closes a connection that has sent this many bytes of a line without its newline, unless the line is a
    /// get or gets: nothing else has a reason to be that long, and junk (another protocol) should not be buffered.
    /// </summary>
    public const int MaxUnterminatedLine = 2048;

    /// <summary>How many spaces memcached lets stand before a get or gets whose line is longer than
    /// <see cref="MaxUnterminatedLine"/>.</summary>
    private const int MaxLeadingSpaces = 100;

    /// <summary>Multi-key get and gets may send longer lines; they are bounded too, so memory per connection is.</summary>
    public const int MaxRetrievalLine = 1024 * 1024;

    /// <summary>memcached's tokenizer keeps at most this many tokens of a line; the rest stays unsplit.</summary>
    private const int MaxTokens = 23;

    private readonly MemCache _cache = context.Cache;
    private long _swallowRemaining;
    /// <summary>Where in its line the unanswered keys of a paused retrieval begin; 0 when none is paused.</summary>
    private int _resumeKeysAt;
    private byte[] _lineCopy = [];
    private MetaCommandProcessor? _meta;

    private enum Status { Done, NeedMoreData, Close, Paused }

    /// <summary>
    /// Runs every complete command at the front of <paramref name="input"/> and slices it past them. A command whose
    /// line or data block has not fully arrived is left in the input for the next call.
    /// </summary>
    public ProcessOutcome Process(ref ReadOnlySequence<byte> input, IBufferWriter<byte> output)
    {
        var outcome = ProcessOutcome.None;
        while (true)
        {
            if (!InputSkipping.SkipPending(ref _swallowRemaining, ref input))
            {
                return outcome;
            }
            if (ReplyBacklog.IsFull(output))
            {
                return outcome | ProcessOutcome.Paused;
            }

            var lineEnd = input.PositionOf((byte)'\n');
            if (lineEnd is null)
            {
                var limit = IsRetrievalLine(input) ? MaxRetrievalLine : MaxUnterminatedLine;
                return input.Length > limit ? outcome | ProcessOutcome.Close : outcome;
            }

            var lineBytes = input.Slice(0, lineEnd.Value);
            if (lineBytes.Length > MaxCommandLine && (lineBytes.Length > MaxRetrievalLine || !IsRetrievalLine(lineBytes)))
            {
                return outcome | ProcessOutcome.Close;
            }
            var line = lineBytes.IsSingleSegment ? lineBytes.FirstSpan : CopyLine(lineBytes);
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }
            // memcached reads the line as a C string: a NUL ends it, so no key can hold one.
            var nul = line.IndexOf((byte)0);
            if (nul >= 0)
            {
                line = line[..nul];
            }

            var rest = input.Slice(input.GetPosition(1, lineEnd.Value));
            var mutated = false;
            var status = Execute(line, ref rest, output, ref mutated);
            if (mutated)
            {
                outcome |= ProcessOutcome.Mutated;
            }
            switch (status)
            {
                case Status.NeedMoreData:
                    return outcome;
                case Status.Paused:
                    return outcome | ProcessOutcome.Paused;
                case Status.Close:
                    input = rest;
                    return outcome | ProcessOutcome.Close;
                default:
                    input = rest;
                    break;
            }
        }
    }

    private Status Execute(ReadOnlySpan<byte> line, ref ReadOnlySequence<byte> rest, IBufferWriter<byte> output, ref bool mutated)
    {
        var tokens = new TextTokens(line);
        if (!tokens.TryNext(out var command))
        {
            output.Write(Error);
            return Status.Done;
        }
        var arguments = TextTokens.Count(line) - 1;

        if (command.SequenceEqual("get"u8)) return Retrieve(line, ref tokens, arguments, withCas: false, touch: false, output, ref mutated);
        if (command.SequenceEqual("set"u8)) return Store(StoreMode.Set, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("gets"u8)) return Retrieve(line, ref tokens, arguments, withCas: true, touch: false, output, ref mutated);
        if (command.SequenceEqual("add"u8)) return Store(StoreMode.Add, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("replace"u8)) return Store(StoreMode.Replace, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("append"u8)) return Store(StoreMode.Append, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("prepend"u8)) return Store(StoreMode.Prepend, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("cas"u8)) return Store(StoreMode.Cas, ref tokens, arguments, ref rest, output, ref mutated);
        if (command.SequenceEqual("delete"u8)) return Delete(ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("incr"u8)) return Arithmetic(ref tokens, arguments, decrement: false, output, ref mutated);
        if (command.SequenceEqual("decr"u8)) return Arithmetic(ref tokens, arguments, decrement: true, output, ref mutated);
        if (command.SequenceEqual("touch"u8)) return Touch(ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("gat"u8)) return Retrieve(line, ref tokens, arguments, withCas: false, touch: true, output, ref mutated);
        if (command.SequenceEqual("gats"u8)) return Retrieve(line, ref tokens, arguments, withCas: true, touch: true, output, ref mutated);
        if (command.SequenceEqual("flush_all"u8)) return FlushAll(ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("stats"u8)) { TextStatsCommands.Stats(context, ref tokens, arguments, output); return Status.Done; }
        if (command.SequenceEqual("lru_crawler"u8)) { TextStatsCommands.LruCrawler(context, ref tokens, arguments, output); return Status.Done; }
        if (command.SequenceEqual("version"u8)) return Version(output);
        if (command.SequenceEqual("verbosity"u8)) return Verbosity(ref tokens, arguments, output);
        if (command.SequenceEqual("quit"u8)) return Status.Close;
        if (MetaCommandProcessor.IsMetaCommand(command))
        {
            _meta ??= new MetaCommandProcessor(context);
            if (!_meta.TryExecute(command, ref tokens, arguments, ref rest, output, ref mutated, out var swallow))
            {
                return Status.NeedMoreData;
            }
            _swallowRemaining = swallow;
            return Status.Done;
        }
        if (command.SequenceEqual("shutdown"u8))
        {
            output.Write("ERROR: shutdown not enabled\r\n"u8);
            return Status.Done;
        }
        // memcached still answers this long-undocumented spelling of get.
        if (command.SequenceEqual("bget"u8)) return Retrieve(line, ref tokens, arguments, withCas: false, touch: false, output, ref mutated);

        if (LooksLikeHttp(line, command))
        {
            return Status.Close;
        }
        output.Write(Error);
        return Status.Done;
    }

    /// <summary>
    /// memcached hangs up, without a reply, on an unknown command whose last token starts with "HTTP/": a browser or
    /// an HTTP client tricked into talking to the cache (a cross-protocol request) gets nothing to work with. Like
    /// memcached 1.6.18, only commands whose first letter starts none of the known commands are checked, and "last"
    /// is the last of the tokens its tokenizer keeps.
    /// </summary>
    private static bool LooksLikeHttp(ReadOnlySpan<byte> line, ReadOnlySpan<byte> command)
    {
        if (command.Length < 2 || command[0] is (byte)'g' or (byte)'s' or (byte)'a' or (byte)'c' or (byte)'i' or (byte)'d' or (byte)'t'
            || (command[0] == (byte)'m' && command.Length == 2))
        {
            return false;
        }
        var tokens = new TextTokens(line);
        ReadOnlySpan<byte> last = default;
        for (var kept = 0; kept < MaxTokens && tokens.TryNext(out var token); kept++)
        {
            last = token;
        }
        return last.StartsWith("HTTP/"u8);
    }

    /// <summary>get, gets, gat and gats: every key is checked before any is answered, so an error never follows
    /// half a reply. When the replies back up the command pauses between keys and goes on at the next call, which
    /// finds the same line at the front of the input.</summary>
    private Status Retrieve(ReadOnlySpan<byte> line, ref TextTokens tokens, int arguments, bool withCas, bool touch,
        IBufferWriter<byte> output, ref bool mutated)
    {
        var exptime = 0;
        if (touch)
        {
            if (arguments < 1)
            {
                output.Write(Error);
                return Status.Done;
            }
            tokens.TryNext(out var exptimeToken);
            if (!TextTokens.TryParseInt32(exptimeToken, out exptime))
            {
                output.Write(InvalidExptime);
                return Status.Done;
            }
        }
        else if (arguments < 1)
        {
            output.Write(Error);
            return Status.Done;
        }
        if (_resumeKeysAt > 0)
        {
            // Its keys were checked, and the command admitted, before its first reply.
            var remaining = new TextTokens(line[_resumeKeysAt..]);
            _resumeKeysAt = 0;
            return AnswerKeys(line, ref remaining, exptime, withCas, touch, first: false, output, ref mutated);
        }

        var check = tokens;
        while (check.TryNext(out var key))
        {
            if (key.Length > CacheLimits.MaxKeyLength)
            {
                output.Write(BadCommandLine);
                return Status.Done;
            }
        }

        return AnswerKeys(line, ref tokens, exptime, withCas, touch, first: true, output, ref mutated);
    }

    /// <param name="first">Whether no key has been answered yet: only then can a refusal be the whole reply.</param>
    private Status AnswerKeys(ReadOnlySpan<byte> line, ref TextTokens keys, long exptime, bool withCas, bool touch,
        bool first, IBufferWriter<byte> output, ref bool mutated)
    {
        while (keys.TryNext(out var key))
        {
            CacheItem item;
            var result = touch ? _cache.TryGetAndTouch(key, exptime, out item) : _cache.TryGet(key, out item) ? ReadResult.Hit : ReadResult.Miss;
            if (result == ReadResult.Refused && first)
            {
                WriteRefused(output);
                return Status.Done;
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
                _resumeKeysAt = keyAt + key.Length;
                return Status.Paused;
            }
        }
        output.Write(End);
        return Status.Done;
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

    /// <summary>set, add, replace, append, prepend and cas: the command line, then a data block of the declared length
    /// and CRLF.</summary>
    private Status Store(StoreMode mode, ref TextTokens tokens, int arguments, ref ReadOnlySequence<byte> rest,
        IBufferWriter<byte> output, ref bool mutated)
    {
        var required = mode == StoreMode.Cas ? 5 : 4;
        if (arguments != required && arguments != required + 1)
        {
            output.Write(Error);
            return Status.Done;
        }
        tokens.TryNext(out var key);
        tokens.TryNext(out var flagsToken);
        tokens.TryNext(out var exptimeToken);
        tokens.TryNext(out var lengthToken);
        ReadOnlySpan<byte> casToken = default;
        if (mode == StoreMode.Cas)
        {
            tokens.TryNext(out casToken);
        }
        // memcached's noreply is whatever the last token says, even when that token is the length or the cas.
        var last = tokens.TryNext(out var extra) ? extra : mode == StoreMode.Cas ? casToken : lengthToken;
        var noreply = last.SequenceEqual(NoReply);

        var cas = 0UL;
        if (key.Length > CacheLimits.MaxKeyLength
            || !TextTokens.TryParseFlags(flagsToken, out var flags)
            || !TextTokens.TryParseInt32(exptimeToken, out var exptime)
            || !TextTokens.TryParseInt32(lengthToken, out var length)
            || length is < 0 or > int.MaxValue - 2
            || (mode == StoreMode.Cas && !TextTokens.TryParseUInt64(casToken, out cas)))
        {
            Reply(output, BadCommandLine, noreply);
            return Status.Done;
        }

        if (!_cache.Options.ItemFits(key.Length, flags, length))
        {
            // Like memcached: refuse, discard the block as it arrives, and drop the old value a failed set would
            // otherwise leave behind as stale data.
            _swallowRemaining = length + 2;
            var dropped = _cache.RefuseTooLarge(mode, key);
            mutated |= dropped == DeleteResult.Deleted;
            if (dropped == DeleteResult.Refused)
            {
                WriteRefused(output);
            }
            else
            {
                Reply(output, TooLarge, noreply);
            }
            return Status.Done;
        }

        var blockLength = length + 2;
        if (rest.Length < blockLength)
        {
            return Status.NeedMoreData;
        }
        var block = rest.Slice(0, blockLength);
        rest = rest.Slice(blockLength);
        if (!EndsWithNewLine(block))
        {
            Reply(output, BadDataChunk, noreply);
            return Status.Done;
        }

        var value = ValueArrays.Allocate((int)length);
        block.Slice(0, length).CopyTo(value);
        var result = _cache.Store(mode, key, flags, exptime, value, cas);
        mutated |= result == StoreResult.Stored;
        if (result == StoreResult.Refused)
        {
            WriteRefused(output);
            return Status.Done;
        }
        Reply(output, result switch
        {
            StoreResult.Stored => Stored,
            StoreResult.Exists => Exists,
            StoreResult.NotFound => NotFound,
            _ => NotStored,
        }, noreply);
        return Status.Done;
    }

    /// <summary>delete &lt;key&gt; [0] [noreply]: memcached still accepts a hold time of 0 and rejects any other.</summary>
    private Status Delete(ref TextTokens tokens, int arguments, IBufferWriter<byte> output, ref bool mutated)
    {
        if (arguments is < 1 or > 3)
        {
            output.Write(Error);
            return Status.Done;
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
                return Status.Done;
            }
        }
        if (key.Length > CacheLimits.MaxKeyLength)
        {
            Reply(output, BadCommandLine, noreply);
            return Status.Done;
        }

        var result = _cache.Delete(key);
        mutated |= result == DeleteResult.Deleted;
        if (result == DeleteResult.Refused)
        {
            WriteRefused(output);
            return Status.Done;
        }
        Reply(output, result == DeleteResult.Deleted ? Deleted : NotFound, noreply);
        return Status.Done;
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

    private Status Arithmetic(ref TextTokens tokens, int arguments, bool decrement, IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryReadKeyAndArgument(ref tokens, arguments, output, out var key, out var deltaToken, out var noreply))
        {
            return Status.Done;
        }
        if (!TextTokens.TryParseUInt64(deltaToken, out var delta))
        {
            Reply(output, InvalidDelta, noreply);
            return Status.Done;
        }

        switch (_cache.Increment(key, delta, decrement, out var item))
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
        return Status.Done;
    }

    private Status Touch(ref TextTokens tokens, int arguments, IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryReadKeyAndArgument(ref tokens, arguments, output, out var key, out var exptimeToken, out var noreply))
        {
            return Status.Done;
        }
        if (!TextTokens.TryParseInt32(exptimeToken, out var exptime))
        {
            Reply(output, InvalidExptime, noreply);
            return Status.Done;
        }

        var result = _cache.Touch(key, exptime);
        mutated |= result == TouchResult.Touched;
        if (result == TouchResult.Refused)
        {
            WriteRefused(output);
            return Status.Done;
        }
        Reply(output, result == TouchResult.Touched ? Touched : NotFound, noreply);
        return Status.Done;
    }

    /// <summary>flush_all [delay] [noreply]. A token after the delay that is not noreply is ignored, as memcached does.</summary>
    private Status FlushAll(ref TextTokens tokens, int arguments, IBufferWriter<byte> output, ref bool mutated)
    {
        if (arguments > 2)
        {
            output.Write(Error);
            return Status.Done;
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
                    return Status.Done;
                }
            }
        }

        if (!_cache.FlushAll(delay))
        {
            WriteRefused(output);
            return Status.Done;
        }
        mutated = true;
        Reply(output, Ok, noreply);
        return Status.Done;
    }

    /// <summary>version: memcached ignores any tokens after it.</summary>
    private static Status Version(IBufferWriter<byte> output)
    {
        output.Write(TextReplies.Version);
        ReplyWriter.WriteAscii(output, ServerContext.Version);
        output.Write(NewLine);
        return Status.Done;
    }

    private Status Verbosity(ref TextTokens tokens, int arguments, IBufferWriter<byte> output)
    {
        if (arguments is not (1 or 2))
        {
            output.Write(Error);
            return Status.Done;
        }
        // memcached's noreply is whatever the last token says, even when it is the only one.
        tokens.TryNext(out var levelToken);
        var last = tokens.TryNext(out var second) ? second : levelToken;
        var noreply = last.SequenceEqual(NoReply);
        if (!TextTokens.TryParseFlags(levelToken, out var level))
        {
            Reply(output, BadCommandLine, noreply);
            return Status.Done;
        }
        context.Verbosity = (int)Math.Min(level, int.MaxValue);
        Reply(output, Ok, noreply);
        return Status.Done;
    }

    /// <summary>
    /// The reply to a change the cache refused (<see cref="MemCache.RefuseChangesWhile"/>: persistence cannot write).
    /// It is sent even under noreply, so that a client learns its write was not made.
    /// </summary>
    private static void WriteRefused(IBufferWriter<byte> output) => output.Write(PersistenceFailed);

    private static void Reply(IBufferWriter<byte> output, ReadOnlySpan<byte> reply, bool noreply)
    {
        if (!noreply)
        {
            output.Write(reply);
        }
    }

    private static bool EndsWithNewLine(ReadOnlySequence<byte> block)
    {
        Span<byte> tail = stackalloc byte[2];
        block.Slice(block.Length - 2).CopyTo(tail);
        return tail[0] == (byte)'\r' && tail[1] == (byte)'\n';
    }

    /// <summary>Whether a line is a get or gets, which may grow past the other commands' limits because it carries
    /// many keys: memcached's test, which allows up to <see cref="MaxLeadingSpaces"/> spaces before the command.</summary>
    private static bool IsRetrievalLine(ReadOnlySequence<byte> start)
    {
        Span<byte> head = stackalloc byte[MaxLeadingSpaces + 5];
        var length = (int)Math.Min(head.Length, start.Length);
        start.Slice(0, length).CopyTo(head);
        var prefix = head[..length].TrimStart((byte)' ');
        return length - prefix.Length <= MaxLeadingSpaces && (prefix.StartsWith("get "u8) || prefix.StartsWith("gets "u8));
    }

    private ReadOnlySpan<byte> CopyLine(ReadOnlySequence<byte> line)
    {
        if (_lineCopy.Length < line.Length)
        {
            _lineCopy = new byte[Math.Max(line.Length, 256)];
        }
        line.CopyTo(_lineCopy);
        return _lineCopy.AsSpan(0, (int)line.Length);
    }
}

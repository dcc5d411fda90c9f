using System.Buffers;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Service.Protocol.Meta;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// memcached's text protocol for one connection: frames command lines and data blocks out of the input and hands each
/// command to its family (<see cref="TextStorageCommands"/>, <see cref="TextRetrievalCommands"/>,
/// <see cref="TextKeyCommands"/>, <see cref="TextAdminCommands"/>, <see cref="TextStatsCommands"/>, and the meta
/// commands' <see cref="MetaCommandProcessor"/>), which runs it against the cache and writes its reply into the output,
/// with memcached 1.6's replies for every error. Stateful only across a rejected data block that is still arriving (the
/// bytes to swallow), and across a multi-key retrieval paused for its replies to drain (where its remaining keys begin).
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
                case CommandStatus.NeedMoreData:
                    return outcome;
                case CommandStatus.Paused:
                    return outcome | ProcessOutcome.Paused;
                case CommandStatus.Close:
                    input = rest;
                    return outcome | ProcessOutcome.Close;
                default:
                    input = rest;
                    break;
            }
        }
    }

    private CommandStatus Execute(ReadOnlySpan<byte> line, ref ReadOnlySequence<byte> rest, IBufferWriter<byte> output, ref bool mutated)
    {
        var tokens = new TextTokens(line);
        if (!tokens.TryNext(out var command))
        {
            output.Write(Error);
            return CommandStatus.Done;
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
        if (command.SequenceEqual("delete"u8)) return TextKeyCommands.Delete(_cache, ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("incr"u8)) return TextKeyCommands.Arithmetic(_cache, ref tokens, arguments, decrement: false, output, ref mutated);
        if (command.SequenceEqual("decr"u8)) return TextKeyCommands.Arithmetic(_cache, ref tokens, arguments, decrement: true, output, ref mutated);
        if (command.SequenceEqual("touch"u8)) return TextKeyCommands.Touch(_cache, ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("gat"u8)) return Retrieve(line, ref tokens, arguments, withCas: false, touch: true, output, ref mutated);
        if (command.SequenceEqual("gats"u8)) return Retrieve(line, ref tokens, arguments, withCas: true, touch: true, output, ref mutated);
        if (command.SequenceEqual("flush_all"u8)) return TextAdminCommands.FlushAll(_cache, ref tokens, arguments, output, ref mutated);
        if (command.SequenceEqual("stats"u8)) { TextStatsCommands.Stats(context, ref tokens, arguments, output); return CommandStatus.Done; }
        if (command.SequenceEqual("lru_crawler"u8)) { TextStatsCommands.LruCrawler(context, ref tokens, arguments, output); return CommandStatus.Done; }
        if (command.SequenceEqual("version"u8)) return TextAdminCommands.Version(output);
        if (command.SequenceEqual("verbosity"u8)) return TextAdminCommands.Verbosity(context, ref tokens, arguments, output);
        if (command.SequenceEqual("quit"u8)) return CommandStatus.Close;
        if (MetaCommandProcessor.IsMetaCommand(command))
        {
            _meta ??= new MetaCommandProcessor(context);
            if (!_meta.TryExecute(command, ref tokens, arguments, ref rest, output, ref mutated, out var swallow))
            {
                return CommandStatus.NeedMoreData;
            }
            _swallowRemaining = swallow;
            return CommandStatus.Done;
        }
        if (command.SequenceEqual("shutdown"u8))
        {
            output.Write("ERROR: shutdown not enabled\r\n"u8);
            return CommandStatus.Done;
        }
        // memcached still answers this long-undocumented spelling of get.
        if (command.SequenceEqual("bget"u8)) return Retrieve(line, ref tokens, arguments, withCas: false, touch: false, output, ref mutated);

        if (LooksLikeHttp(line, command))
        {
            return CommandStatus.Close;
        }
        output.Write(Error);
        return CommandStatus.Done;
    }

    private CommandStatus Retrieve(ReadOnlySpan<byte> line, ref TextTokens tokens, int arguments, bool withCas, bool touch,
        IBufferWriter<byte> output, ref bool mutated) =>
        TextRetrievalCommands.Retrieve(_cache, line, ref tokens, arguments, withCas, touch, ref _resumeKeysAt, output, ref mutated);

    private CommandStatus Store(StoreMode mode, ref TextTokens tokens, int arguments, ref ReadOnlySequence<byte> rest,
        IBufferWriter<byte> output, ref bool mutated) =>
        TextStorageCommands.Store(_cache, mode, ref tokens, arguments, ref rest, ref _swallowRemaining, output, ref mutated);


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

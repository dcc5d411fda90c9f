using System.Buffers;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>set, add, replace, append, prepend and cas: the command line, then a data block of the declared length and
/// CRLF.</summary>
internal static class TextStorageCommands
{
    /// <param name="swallow">Set to the bytes of a refused data block that the processor must discard as they arrive.</param>
    public static CommandStatus Store(MemCache cache, StoreMode mode, ref TextTokens tokens, int arguments,
        ref ReadOnlySequence<byte> rest, ref long swallow, IBufferWriter<byte> output, ref bool mutated)
    {
        var required = mode == StoreMode.Cas ? 5 : 4;
        if (arguments != required && arguments != required + 1)
        {
            output.Write(Error);
            return CommandStatus.Done;
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
            || length is < 0 or > DataBlock.MaxLength
            || (mode == StoreMode.Cas && !TextTokens.TryParseUInt64(casToken, out cas)))
        {
            Reply(output, BadCommandLine, noreply);
            return CommandStatus.Done;
        }

        if (!cache.Options.ItemFits(key.Length, flags, length))
        {
            // Like memcached: refuse, discard the block as it arrives, and drop the old value a failed set would
            // otherwise leave behind as stale data.
            swallow = DataBlock.InputBytes(length);
            var dropped = cache.RefuseTooLarge(mode, key);
            mutated |= dropped == DeleteResult.Deleted;
            if (dropped == DeleteResult.Refused)
            {
                WriteRefused(output);
            }
            else
            {
                Reply(output, TooLarge, noreply);
            }
            return CommandStatus.Done;
        }

        switch (DataBlock.TryRead(ref rest, length, out var value))
        {
            case DataBlockStatus.Incomplete:
                return CommandStatus.NeedMoreData;
            case DataBlockStatus.Malformed:
                Reply(output, BadDataChunk, noreply);
                return CommandStatus.Done;
        }
        var result = cache.Store(mode, key, flags, exptime, value, cas);
        mutated |= result == StoreResult.Stored;
        if (result == StoreResult.Refused)
        {
            WriteRefused(output);
            return CommandStatus.Done;
        }
        Reply(output, result switch
        {
            StoreResult.Stored => Stored,
            StoreResult.Exists => Exists,
            StoreResult.NotFound => NotFound,
            _ => NotStored,
        }, noreply);
        return CommandStatus.Done;
    }
}

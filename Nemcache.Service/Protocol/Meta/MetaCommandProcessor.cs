using System.Buffers;
using System.Buffers.Text;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Meta.MetaReplies;

namespace Nemcache.Service.Protocol.Meta;

/// <summary>
/// memcached's meta commands (mg, ms, md, ma, mn, me) on a text connection, with memcached 1.6.18's replies. The text
/// processor frames the line and hands over its tokens after the command; this class runs the command against the
/// cache, whose every change publishes the same notifications as the text commands do.
/// </summary>
internal sealed class MetaCommandProcessor(ServerContext context)
{
    /// <summary>The return flags each reply carries when asked, in the order they were asked.</summary>
    private static ReadOnlySpan<byte> GetReturns => "cfhklOst"u8;
    private static ReadOnlySpan<byte> SetReturns => "ckO"u8;
    private static ReadOnlySpan<byte> ArithmeticReturns => "ckOt"u8;
    private static ReadOnlySpan<byte> KeyReturns => "kO"u8;

    /// <summary>memcached refuses a meta command of more tokens than this (the command, the key and the flags).</summary>
    private const int MaxTokens = 19;

    private readonly MemCache _cache = context.Cache;
    private readonly byte[] _decodedKey = new byte[CacheLimits.MaxKeyLength];

    public static bool IsMetaCommand(ReadOnlySpan<byte> command) =>
        command.Length == 2 && command[0] == (byte)'m' && command[1] is (byte)'g' or (byte)'s' or (byte)'d' or (byte)'a'
            or (byte)'n' or (byte)'e';

    /// <summary>
    /// Runs one meta command. Returns false, having written nothing, when ms's data block has not fully arrived.
    /// <paramref name="swallow"/> is how many bytes of a refused data block the text processor must discard.
    /// </summary>
    public bool TryExecute(ReadOnlySpan<byte> command, ref TextTokens tokens, int arguments, ref ReadOnlySequence<byte> rest,
        IBufferWriter<byte> output, ref bool mutated, out long swallow)
    {
        swallow = 0;
        if (command[1] == (byte)'n')
        {
            output.Write(NoOp);
            return true;
        }
        if (arguments < 1 || !tokens.TryNext(out var keyToken))
        {
            // memcached's me checks its tokens itself, with another reply.
            output.Write(command[1] == (byte)'e' ? TextReplies.BadCommandLine : TextReplies.Error);
            return true;
        }
        if (keyToken.Length > CacheLimits.MaxKeyLength)
        {
            output.Write(TextReplies.BadCommandLine);
            return true;
        }
        if (arguments + 1 > MaxTokens && command[1] != (byte)'e')
        {
            output.Write(command[1] == (byte)'g' ? FlagsAreTooLong : FlagsTooLong);
            return true;
        }
        switch (command[1])
        {
            case (byte)'g':
                Get(keyToken, tokens, output, ref mutated);
                return true;
            case (byte)'s':
                return Set(keyToken, ref tokens, ref rest, output, ref mutated, out swallow);
            case (byte)'d':
                Delete(keyToken, tokens, output, ref mutated);
                return true;
            case (byte)'a':
                Arithmetic(keyToken, tokens, output, ref mutated);
                return true;
            default:
                Inspect(keyToken, tokens, output);
                return true;
        }
    }

    /// <summary>mg: a hit answers VA (with v) or HD, then the return flags, then W, X and Z; a miss answers EN.</summary>
    private void Get(ReadOnlySpan<byte> keyToken, TextTokens flagTokens, IBufferWriter<byte> output, ref bool mutated)
    {
        ReadOnlySpan<byte> key = default;
        var error = MetaFlags.Parse(flagTokens, out var flags);
        if (error.IsEmpty && !TryDecodeKey(keyToken, flags.Base64Key, out key))
        {
            error = BadKeyEncoding;
        }
        if (!error.IsEmpty)
        {
            output.Write(error);
            return;
        }

        var options = new ReadOptions
        {
            TouchExptime = flags.Ttl,
            NoBump = flags.NoBump,
            VivifyExptime = flags.VivifyTtl,
            RecacheBelowSeconds = flags.RecacheBelow,
        };
        var result = _cache.TryGet(key, options, out var item, out var metadata);
        if (result == ReadResult.Refused)
        {
            TextReplies.WriteRefused(output);
            return;
        }
        if (result == ReadResult.Miss)
        {
            if (!flags.NoReply)
            {
                output.Write(Miss);
                WriteReturnFlags(output, flagTokens, KeyReturns, keyToken, flags.Base64Key, item, metadata);
                output.Write(TextReplies.NewLine);
            }
            return;
        }
        mutated |= flags.Ttl is not null || flags.VivifyTtl is not null;

        if (flags.ReturnValue)
        {
            output.Write(Value);
            ReplyWriter.WriteNumber(output, (ulong)item.Value.Length);
        }
        else
        {
            output.Write(Hit);
        }
        WriteReturnFlags(output, flagTokens, GetReturns, keyToken, flags.Base64Key, item, metadata);
        if (metadata.WinTokenSentBefore) output.Write(" Z"u8);
        if (metadata.Stale) output.Write(" X"u8);
        if (metadata.Won) output.Write(" W"u8);
        output.Write(TextReplies.NewLine);
        if (flags.ReturnValue)
        {
            output.Write(item.Value);
            output.Write(TextReplies.NewLine);
        }
    }

    /// <summary>ms &lt;key&gt; &lt;datalen&gt; &lt;flags&gt;*, then the data block. Once the length is known, a refused
    /// command still discards its data block, as memcached does.</summary>
    private bool Set(ReadOnlySpan<byte> keyToken, ref TextTokens tokens, ref ReadOnlySequence<byte> rest, IBufferWriter<byte> output,
        ref bool mutated, out long swallow)
    {
        swallow = 0;
        if (!tokens.TryNext(out var lengthToken) || !TextTokens.TryParseInt32(lengthToken, out var length)
            || length is < 0 or > DataBlock.MaxLength)
        {
            output.Write(TextReplies.BadCommandLine);
            return true;
        }
        var flagTokens = tokens;
        ReadOnlySpan<byte> key = default;
        var error = MetaFlags.Parse(flagTokens, out var flags);
        if (error.IsEmpty && !TryDecodeKey(keyToken, flags.Base64Key, out key))
        {
            error = BadKeyEncoding;
        }
        var mode = flags.Mode switch
        {
            0 or (byte)'S' => StoreMode.Set,
            (byte)'E' => StoreMode.Add,
            (byte)'A' => StoreMode.Append,
            (byte)'P' => StoreMode.Prepend,
            (byte)'R' => StoreMode.Replace,
            _ => (StoreMode?)null,
        };
        if (error.IsEmpty && mode is null)
        {
            error = InvalidSetMode;
        }
        if (error.IsEmpty && !_cache.Options.ItemFits(key.Length, flags.ClientFlags, length))
        {
            // As with set: a refused value must not leave the old one behind as stale data. memcached 1.6.18 drops it
            // whatever the mode.
            var dropped = _cache.RefuseTooLarge(StoreMode.Set, key);
            mutated |= dropped == DeleteResult.Deleted;
            error = dropped == DeleteResult.Refused ? TextReplies.PersistenceFailed : TextReplies.TooLarge;
        }
        if (!error.IsEmpty)
        {
            output.Write(error);
            swallow = DataBlock.InputBytes(length);
            return true;
        }

        switch (DataBlock.TryRead(ref rest, length, out var value))
        {
            case DataBlockStatus.Incomplete:
                return false;
            case DataBlockStatus.Malformed:
                output.Write(TextReplies.BadDataChunk);
                return true;
        }
        // As in memcached: a C makes set and replace a cas, which compares even with 0; add ignores it; append and
        // prepend compare only a non-zero one.
        var storeMode = flags.CompareCas is not null && mode is StoreMode.Set or StoreMode.Replace ? StoreMode.Cas : mode!.Value;
        var options = new StoreOptions(flags.ClientFlags, flags.Ttl ?? 0)
        {
            CompareCas = storeMode == StoreMode.Add ? 0 : flags.CompareCas ?? 0,
            Invalidate = flags.Invalidate,
            VivifyExptime = flags.VivifyTtl,
        };
        var result = _cache.Store(storeMode, key, value, options, out var stored);
        if (result == StoreResult.Refused)
        {
            TextReplies.WriteRefused(output);
            return true;
        }
        if (result == StoreResult.Stored)
        {
            mutated = true;
            if (flags.NoReply)
            {
                return true;
            }
        }
        output.Write(result switch
        {
            StoreResult.Stored => Hit,
            StoreResult.Exists => Exists,
            StoreResult.NotFound => NotFound,
            _ => NotStored,
        });
        WriteReturnFlags(output, flagTokens, SetReturns, keyToken, flags.Base64Key, stored, default);
        output.Write(TextReplies.NewLine);
        return true;
    }

    /// <summary>md: deletes, or with I marks the item stale (and with T gives it a new expiry).</summary>
    private void Delete(ReadOnlySpan<byte> keyToken, TextTokens flagTokens, IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryParseStrict(keyToken, flagTokens, output, out var flags, out var key))
        {
            return;
        }
        var result = flags.Invalidate ? _cache.Invalidate(key, flags.CompareCas, flags.Ttl) : _cache.Delete(key, flags.CompareCas);
        if (result == DeleteResult.Refused)
        {
            TextReplies.WriteRefused(output);
            return;
        }
        if (result == DeleteResult.Deleted)
        {
            mutated = true;
            if (flags.NoReply)
            {
                return;
            }
        }
        output.Write(result switch
        {
            DeleteResult.Deleted => Hit,
            DeleteResult.Exists => Exists,
            _ => NotFound,
        });
        WriteReturnFlags(output, flagTokens, KeyReturns, keyToken, flags.Base64Key, default, default);
        output.Write(TextReplies.NewLine);
    }

    /// <summary>ma: incr (mode I or +, the default) or decr (D or -) by D (default 1); N creates a missing item holding J.</summary>
    private void Arithmetic(ReadOnlySpan<byte> keyToken, TextTokens flagTokens, IBufferWriter<byte> output, ref bool mutated)
    {
        if (!TryParseStrict(keyToken, flagTokens, output, out var flags, out var key))
        {
            return;
        }
        bool decrement;
        switch (flags.Mode)
        {
            case 0 or (byte)'I' or (byte)'+': decrement = false; break;
            case (byte)'D' or (byte)'-': decrement = true; break;
            default:
                output.Write(InvalidArithmeticMode);
                return;
        }

        var options = new ArithmeticOptions(flags.Delta, decrement)
        {
            CompareCas = flags.CompareCas ?? 0,
            CreateWith = flags.VivifyTtl is null ? null : flags.Initial,
            // memcached applies T to the item it creates too.
            CreateExptime = flags.Ttl ?? flags.VivifyTtl ?? 0,
            UpdateExptime = flags.Ttl,
        };
        switch (_cache.Increment(key, options, out var item))
        {
            case ArithmeticResult.Updated:
                mutated = true;
                if (flags.NoReply)
                {
                    return;
                }
                var number = item.Value.AsSpan().TrimEnd((byte)' ');
                if (flags.ReturnValue)
                {
                    output.Write(Value);
                    ReplyWriter.WriteNumber(output, (ulong)number.Length);
                }
                else
                {
                    output.Write(Hit);
                }
                WriteReturnFlags(output, flagTokens, ArithmeticReturns, keyToken, flags.Base64Key, item, default);
                output.Write(TextReplies.NewLine);
                if (flags.ReturnValue)
                {
                    output.Write(number);
                    output.Write(TextReplies.NewLine);
                }
                return;
            case ArithmeticResult.NonNumeric:
                output.Write(TextReplies.NonNumeric);
                return;
            case ArithmeticResult.Refused:
                TextReplies.WriteRefused(output);
                return;
            case ArithmeticResult.Exists:
                output.Write(Exists);
                break;
            default:
                output.Write(NotFound);
                break;
        }
        WriteReturnFlags(output, flagTokens, KeyReturns, keyToken, flags.Base64Key, default, default);
        output.Write(TextReplies.NewLine);
    }

    /// <summary>
    /// me &lt;key&gt; [b]: the item's metadata, in memcached's format. Nemcache has no slab classes: cls is always 1,
    /// and size is what the item counts against the memory limit.
    /// </summary>
    private void Inspect(ReadOnlySpan<byte> keyToken, TextTokens flagTokens, IBufferWriter<byte> output)
    {
        var base64 = flagTokens.TryNext(out var flag) && flag.SequenceEqual("b"u8);
        if (!TryDecodeKey(keyToken, base64, out var key))
        {
            output.Write(TextReplies.BadCommandLine);
            return;
        }
        if (_cache.TryGet(key, new ReadOptions { Inspect = true }, out var item, out var metadata) != ReadResult.Hit)
        {
            output.Write(Miss);
            output.Write(TextReplies.NewLine);
            return;
        }
        output.Write(Debug);
        output.Write(keyToken);
        output.Write(" exp="u8);
        ReplyWriter.WriteNumber(output, RemainingTtl(item));
        output.Write(" la="u8);
        ReplyWriter.WriteNumber(output, metadata.IdleSeconds);
        output.Write(" cas="u8);
        ReplyWriter.WriteNumber(output, item.Cas);
        output.Write(metadata.FetchedBefore ? " fetch=yes"u8 : " fetch=no"u8);
        output.Write(" cls=1 size="u8);
        ReplyWriter.WriteNumber(output, (ulong)(item.Key.Length + item.Value.Length + CacheLimits.ItemOverheadBytes));
        output.Write(TextReplies.NewLine);
    }

    /// <summary>md and ma answer one error line for any flag they cannot parse, whatever was wrong with it.</summary>
    private bool TryParseStrict(ReadOnlySpan<byte> keyToken, TextTokens flagTokens, IBufferWriter<byte> output, out MetaFlags flags,
        out ReadOnlySpan<byte> key)
    {
        key = default;
        if (!MetaFlags.Parse(flagTokens, out flags).IsEmpty || !TryDecodeKey(keyToken, flags.Base64Key, out key))
        {
            output.Write(InvalidOrDuplicateFlag);
            return false;
        }
        return true;
    }

    /// <summary>The key as the cache knows it: the token itself, or with b the bytes it encodes in base64.</summary>
    private bool TryDecodeKey(ReadOnlySpan<byte> token, bool base64, out ReadOnlySpan<byte> key)
    {
        if (!base64)
        {
            key = token;
            return true;
        }
        var status = Base64.DecodeFromUtf8(token, _decodedKey, out _, out var written);
        key = _decodedKey.AsSpan(0, written);
        return status == OperationStatus.Done && written > 0;
    }

    /// <summary>
    /// Writes, for each flag token in the order given, the return flag it asks for, if <paramref name="returnable"/>
    /// lists it: " k&lt;key&gt;" (and " b" for a base64 key), " O&lt;opaque&gt;", " c&lt;cas&gt;", and so on.
    /// </summary>
    private void WriteReturnFlags(IBufferWriter<byte> output, TextTokens flagTokens, ReadOnlySpan<byte> returnable,
        ReadOnlySpan<byte> keyToken, bool base64, in CacheItem item, in ItemMetadata metadata)
    {
        while (flagTokens.TryNext(out var token))
        {
            var letter = token[0];
            if (returnable.IndexOf(letter) < 0)
            {
                continue;
            }
            output.Write(" "u8);
            switch (letter)
            {
                case (byte)'O':
                    output.Write(token);
                    break;
                case (byte)'k':
                    output.Write("k"u8);
                    output.Write(keyToken);
                    if (base64)
                    {
                        output.Write(" b"u8);
                    }
                    break;
                case (byte)'h':
                    output.Write(metadata.FetchedBefore ? "h1"u8 : "h0"u8);
                    break;
                case (byte)'c':
                    output.Write("c"u8);
                    ReplyWriter.WriteNumber(output, item.Cas);
                    break;
                default:
                    output.Write([letter]);
                    ReplyWriter.WriteNumber(output, letter switch
                    {
                        (byte)'f' => item.Flags,
                        (byte)'l' => metadata.IdleSeconds,
                        (byte)'s' => item.Value.Length,
                        _ => RemainingTtl(item),
                    });
                    break;
            }
        }
    }

    /// <summary>Seconds the item has left to live, -1 for never, as the meta commands report it.</summary>
    private long RemainingTtl(in CacheItem item) => item.ExpiresAt == 0 ? -1 : item.ExpiresAt - _cache.Clock.Now;
}

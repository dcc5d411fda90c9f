using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol.Stats;
using Nemcache.Storage.Cache;
using static Nemcache.Service.Protocol.Binary.BinaryOpcode;

namespace Nemcache.Service.Protocol.Binary;

/// <summary>
/// memcached's binary protocol for one connection. A packet runs once all of it has arrived; the header alone decides
/// how much may be buffered, so a client can never make the server hold more than one item's worth. As in memcached
/// 1.6: a malformed header is answered "Invalid arguments" and closes the connection, a bad magic byte closes it, an
/// unknown opcode is answered and its body skipped, and a value that does not fit the item size limit is answered
/// "Too large." and skipped as it arrives, and the connection goes on.
/// </summary>
internal sealed class BinaryProtocolProcessor(ServerContext context) : IProtocolProcessor
{
    /// <summary>The longest extras any command takes: incr and decr's delta, initial value and expiry.</summary>
    private const int MaxExtrasLength = 20;

    /// <summary>incr and decr's expiry that means "do not create a missing item".</summary>
    private const uint NoCreate = 0xffffffff;

    private readonly MemCache _cache = context.Cache;
    private readonly byte[] _extrasAndKey = new byte[MaxExtrasLength + CacheLimits.MaxKeyLength];
    private long _swallowRemaining;

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
            // As in memcached, nothing is judged before a whole header has arrived.
            if (input.Length < BinaryHeader.Size)
            {
                return outcome;
            }

            var header = BinaryHeader.Read(input);
            if (header.Magic != BinaryHeader.RequestMagic)
            {
                return outcome | ProcessOutcome.Close;
            }
            if (!IsWellFormed(header))
            {
                WriteError(output, header, BinaryStatus.InvalidArguments);
                return outcome | ProcessOutcome.Close;
            }
            if (!IsKnown(header.Opcode))
            {
                WriteError(output, header, BinaryStatus.UnknownCommand);
                input = input.Slice(BinaryHeader.Size);
                _swallowRemaining = header.BodyLength;
                continue;
            }

            var mutated = false;
            if (header.ValueLength > 0)
            {
                // Only the storage commands carry a value. Whether it fits is decided from the extras (the flags) and
                // the key, before the value is buffered, as memcached does.
                var headLength = BinaryHeader.Size + header.ExtrasLength + header.KeyLength;
                if (input.Length < headLength)
                {
                    return outcome;
                }
                if (RefusedTooLarge(header, input.Slice(BinaryHeader.Size, headLength - BinaryHeader.Size), output, ref mutated))
                {
                    input = input.Slice(headLength);
                    _swallowRemaining = header.ValueLength;
                    outcome |= mutated ? ProcessOutcome.Mutated : 0;
                    continue;
                }
            }

            var packetLength = BinaryHeader.Size + (long)header.BodyLength;
            if (input.Length < packetLength)
            {
                return outcome;
            }
            var close = Execute(header, input.Slice(BinaryHeader.Size, header.BodyLength), output, ref mutated);
            input = input.Slice(packetLength);
            outcome |= mutated ? ProcessOutcome.Mutated : 0;
            if (close)
            {
                return outcome | ProcessOutcome.Close;
            }
        }
    }

    /// <summary>memcached's per-command checks of the key, extras and body lengths, made before any body is read.</summary>
    private static bool IsWellFormed(in BinaryHeader header)
    {
        if (header.KeyLength > CacheLimits.MaxKeyLength || header.ValueLength < 0)
        {
            return false;
        }
        var hasKey = header.KeyLength > 0;
        var noValue = header.ValueLength == 0;
        return header.Opcode switch
        {
            Get or GetQ or GetK or GetKQ or Delete or DeleteQ => hasKey && header.ExtrasLength == 0 && noValue,
            Set or SetQ or Add or AddQ or Replace or ReplaceQ => hasKey && header.ExtrasLength == 8,
            Append or AppendQ or Prepend or PrependQ => hasKey && header.ExtrasLength == 0,
            Increment or IncrementQ or Decrement or DecrementQ => hasKey && header.ExtrasLength == 20 && noValue,
            Touch or Gat or GatQ or GatK or GatKQ => hasKey && header.ExtrasLength == 4 && noValue,
            Quit or QuitQ or Noop or BinaryOpcode.Version => header.BodyLength == 0,
            Flush or FlushQ => !hasKey && header.ExtrasLength is 0 or 4 && noValue,
            Verbosity => !hasKey && header.ExtrasLength == 4 && noValue,
            Stat => header.ExtrasLength == 0 && noValue,
            _ => true,
        };
    }

    private static bool IsKnown(byte opcode) => opcode <= GatQ || opcode is GatK or GatKQ;

    /// <summary>Returns whether the connection must close after this packet (quit).</summary>
    private bool Execute(in BinaryHeader header, ReadOnlySequence<byte> body, IBufferWriter<byte> output, ref bool mutated)
    {
        var head = _extrasAndKey.AsSpan(0, header.ExtrasLength + header.KeyLength);
        body.Slice(0, head.Length).CopyTo(head);
        var extras = head[..header.ExtrasLength];
        var key = head[header.ExtrasLength..];

        switch (header.Opcode)
        {
            case Get or GetQ or GetK or GetKQ or Touch or Gat or GatQ or GatK or GatKQ:
                Retrieve(header, extras, key, output, ref mutated);
                break;
            case Set or SetQ or Add or AddQ or Replace or ReplaceQ or Append or AppendQ or Prepend or PrependQ:
                var value = ValueArrays.Allocate((int)header.ValueLength);
                body.Slice(head.Length).CopyTo(value);
                Store(header, extras, key, value, output, ref mutated);
                break;
            case Delete or DeleteQ:
                var deleted = _cache.Delete(key, header.Cas == 0 ? null : header.Cas);
                mutated |= deleted == DeleteResult.Deleted;
                Reply(output, header, deleted switch
                {
                    DeleteResult.Deleted => BinaryStatus.Success,
                    DeleteResult.Exists => BinaryStatus.KeyExists,
                    DeleteResult.Refused => BinaryStatus.InternalError,
                    _ => BinaryStatus.KeyNotFound,
                });
                break;
            case Increment or IncrementQ or Decrement or DecrementQ:
                Arithmetic(header, extras, key, output, ref mutated);
                break;
            case Flush or FlushQ:
                mutated = _cache.FlushAll(extras.IsEmpty ? 0 : BinaryPrimitives.ReadUInt32BigEndian(extras));
                Reply(output, header, mutated ? BinaryStatus.Success : BinaryStatus.InternalError);
                break;
            case Quit or QuitQ:
                Reply(output, header, BinaryStatus.Success);
                return true;
            case BinaryOpcode.Version:
                header.WriteResponse(output, BinaryStatus.Success, 0, 0, ServerContext.Version.Length, 0);
                ReplyWriter.WriteAscii(output, ServerContext.Version);
                break;
            case Verbosity:
                context.Verbosity = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(extras), int.MaxValue);
                Reply(output, header, BinaryStatus.Success);
                break;
            case Stat:
                Stats(header, key, output);
                break;
            case Noop:
                Reply(output, header, BinaryStatus.Success);
                break;
        }
        return false;
    }

    /// <summary>get, getk, touch, gat, gatk and their quiet forms: a hit carries the flags as extras.</summary>
    private void Retrieve(in BinaryHeader header, ReadOnlySpan<byte> extras, ReadOnlySpan<byte> key, IBufferWriter<byte> output,
        ref bool mutated)
    {
        var touches = header.Opcode is Touch or Gat or GatQ or GatK or GatKQ;
        CacheItem item;
        var result = touches
            ? _cache.TryGetAndTouch(key, BinaryPrimitives.ReadUInt32BigEndian(extras), out item)
            : _cache.TryGet(key, out item) ? ReadResult.Hit : ReadResult.Miss;
        if (result == ReadResult.Refused)
        {
            WriteError(output, header, BinaryStatus.InternalError);
            return;
        }
        var returnedKey = ReturnsKey(header.Opcode) ? key : [];
        if (result == ReadResult.Miss)
        {
            if (IsQuiet(header.Opcode))
            {
                return;
            }
            if (returnedKey.IsEmpty)
            {
                WriteError(output, header, BinaryStatus.KeyNotFound);
            }
            else
            {
                header.WriteResponse(output, BinaryStatus.KeyNotFound, returnedKey.Length, 0, returnedKey.Length, 0);
                output.Write(returnedKey);
            }
            return;
        }

        mutated |= touches;
        ReadOnlySpan<byte> value = header.Opcode == Touch ? [] : item.Value;
        header.WriteResponse(output, BinaryStatus.Success, returnedKey.Length, 4, 4 + returnedKey.Length + value.Length, item.Cas);
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), item.Flags);
        output.Advance(4);
        output.Write(returnedKey);
        output.Write(value);
    }

    /// <summary>set, add, replace, append, prepend and their quiet forms; a CAS in the header makes any of them conditional.</summary>
    private void Store(in BinaryHeader header, ReadOnlySpan<byte> extras, ReadOnlySpan<byte> key, byte[] value,
        IBufferWriter<byte> output, ref bool mutated)
    {
        var mode = header.Opcode switch
        {
            Append or AppendQ => StoreMode.Append,
            Prepend or PrependQ => StoreMode.Prepend,
            _ when header.Cas != 0 => StoreMode.Cas,
            Add or AddQ => StoreMode.Add,
            Replace or ReplaceQ => StoreMode.Replace,
            _ => StoreMode.Set,
        };
        var options = extras.IsEmpty
            ? new StoreOptions(0, 0) { CompareCas = header.Cas }
            : new StoreOptions(BinaryPrimitives.ReadUInt32BigEndian(extras), BinaryPrimitives.ReadUInt32BigEndian(extras[4..]))
                { CompareCas = header.Cas };
        var result = _cache.Store(mode, key, value, options, out var stored);
        if (result == StoreResult.Stored)
        {
            mutated = true;
            Reply(output, header, BinaryStatus.Success, stored.Cas);
            return;
        }
        Reply(output, header, result switch
        {
            StoreResult.Exists => BinaryStatus.KeyExists,
            StoreResult.NotFound => BinaryStatus.KeyNotFound,
            StoreResult.NotStored when mode == StoreMode.Add => BinaryStatus.KeyExists,
            StoreResult.NotStored when mode == StoreMode.Replace => BinaryStatus.KeyNotFound,
            StoreResult.Refused => BinaryStatus.InternalError,
            StoreResult.TooLarge when mode is not (StoreMode.Append or StoreMode.Prepend) => BinaryStatus.ValueTooLarge,
            _ => BinaryStatus.ItemNotStored,
        });
    }

    /// <summary>
    /// Refuses a value that does not fit the item size limit (<see cref="CacheLimits.ItemFits"/>, with the flags in the
    /// extras; append and prepend have none), before it is read: "Too large.", as memcached answers, and a set also
    /// drops the key's old value, which would otherwise be stale. The caller then discards the value as it arrives.
    /// Returns false, having done nothing, when the value fits.
    /// </summary>
    private bool RefusedTooLarge(in BinaryHeader header, ReadOnlySequence<byte> extrasAndKey, IBufferWriter<byte> output, ref bool mutated)
    {
        var head = _extrasAndKey.AsSpan(0, (int)extrasAndKey.Length);
        extrasAndKey.CopyTo(head);
        var flags = header.ExtrasLength >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(head) : 0;
        if (_cache.Options.ItemFits(header.KeyLength, flags, header.ValueLength))
        {
            return false;
        }
        var dropped = _cache.RefuseTooLarge(header.Opcode is Set or SetQ ? StoreMode.Set : StoreMode.Add, head[header.ExtrasLength..]);
        mutated |= dropped == DeleteResult.Deleted;
        WriteError(output, header, dropped == DeleteResult.Refused ? BinaryStatus.InternalError : BinaryStatus.ValueTooLarge);
        return true;
    }

    /// <summary>incr and decr: extras are the delta, the initial value and the expiry of an item created on a miss.</summary>
    private void Arithmetic(in BinaryHeader header, ReadOnlySpan<byte> extras, ReadOnlySpan<byte> key, IBufferWriter<byte> output,
        ref bool mutated)
    {
        var exptime = BinaryPrimitives.ReadUInt32BigEndian(extras[16..]);
        var options = new ArithmeticOptions(BinaryPrimitives.ReadUInt64BigEndian(extras),
            Decrement: header.Opcode is Decrement or DecrementQ)
        {
            CompareCas = header.Cas,
            CreateWith = exptime == NoCreate ? null : BinaryPrimitives.ReadUInt64BigEndian(extras[8..]),
            CreateExptime = exptime,
        };
        switch (_cache.Increment(key, options, out var item))
        {
            case ArithmeticResult.Updated:
                mutated = true;
                if (!IsQuiet(header.Opcode))
                {
                    Utf8Parser.TryParse(item.Value.AsSpan().TrimEnd((byte)' '), out ulong number, out _);
                    header.WriteResponse(output, BinaryStatus.Success, 0, 0, 8, item.Cas);
                    BinaryPrimitives.WriteUInt64BigEndian(output.GetSpan(8), number);
                    output.Advance(8);
                }
                break;
            case ArithmeticResult.NonNumeric:
                WriteError(output, header, BinaryStatus.NonNumeric);
                break;
            case ArithmeticResult.Exists:
                WriteError(output, header, BinaryStatus.KeyExists);
                break;
            case ArithmeticResult.Refused:
                WriteError(output, header, BinaryStatus.InternalError);
                break;
            default:
                WriteError(output, header, BinaryStatus.KeyNotFound);
                break;
        }
    }

    /// <summary>stat: one packet per statistic, then an empty one. The groups are the text protocol's `stats` ones.</summary>
    private void Stats(in BinaryHeader header, ReadOnlySpan<byte> group, IBufferWriter<byte> output)
    {
        if (group.IsEmpty)
        {
            WriteStats(output, header, StatsReport.General(context));
        }
        else if (group.SequenceEqual("settings"u8))
        {
            WriteStats(output, header, StatsReport.Settings(context));
        }
        else if (group.SequenceEqual("reset"u8))
        {
            _cache.ResetStatistics();
            Reply(output, header, BinaryStatus.Success);
        }
        else if (BinaryStatsGroups.Find(context, group) is { } stats)
        {
            WriteStats(output, header, stats);
        }
        else
        {
            WriteError(output, header, BinaryStatus.KeyNotFound);
        }
    }

    private static void WriteStats(IBufferWriter<byte> output, in BinaryHeader header, List<KeyValuePair<string, string>> stats)
    {
        foreach (var (name, value) in stats)
        {
            header.WriteResponse(output, BinaryStatus.Success, name.Length, 0, name.Length + value.Length, 0);
            ReplyWriter.WriteAscii(output, name);
            ReplyWriter.WriteAscii(output, value);
        }
        header.WriteResponse(output, BinaryStatus.Success, 0, 0, 0, 0);
    }

    /// <summary>A reply without body: success (which a quiet command does not send) or an error with its message.</summary>
    private static void Reply(IBufferWriter<byte> output, in BinaryHeader header, BinaryStatus status, ulong cas = 0)
    {
        if (status != BinaryStatus.Success)
        {
            WriteError(output, header, status);
        }
        else if (!IsQuiet(header.Opcode))
        {
            header.WriteResponse(output, status, 0, 0, 0, cas);
        }
    }

    private static void WriteError(IBufferWriter<byte> output, in BinaryHeader header, BinaryStatus status)
    {
        var message = BinaryStatusMessages.For(status);
        header.WriteResponse(output, status, 0, 0, message.Length, 0);
        output.Write(message);
    }
}

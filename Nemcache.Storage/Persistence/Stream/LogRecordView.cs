using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// One <see cref="LogRecord"/> read straight from its payload bytes, for replay: the keys and values are spans of the
/// frame, so decoding allocates nothing and replay copies only what the cache keeps. The generated
/// <see cref="LogRecord"/> stays the format's definition and the writer's type; this decoder accepts and rejects
/// exactly what <c>LogRecord.Parser</c> does and yields the same fields (LogRecordViewTests decode records both ways),
/// following protobuf's wire rules: a field with an unexpected wire type or an unknown number is skipped, a change
/// field repeated for the same change merges into it, and a different change replaces it.
/// </summary>
internal ref struct LogRecordView
{
    /// <summary>The nesting protobuf allows for unknown groups before it refuses a message.</summary>
    private const int RecursionLimit = 100;

    private const int MaxVarintBytes = 10;

    // Tags: field number << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited, 3 start group, 4 end group, 5 fixed32).
    private const uint SequenceTag = 1 << 3;
    private const uint StoreTag = 2 << 3 | 2, RemoveTag = 3 << 3 | 2, TouchTag = 4 << 3 | 2, FlushTag = 5 << 3 | 2;
    private const uint KeyTag = 1 << 3 | 2;
    private const uint StoreValueTag = 2 << 3 | 2, StoreFlagsTag = 3 << 3, StoreExpiresAtTag = 4 << 3, StoreCasTag = 5 << 3;
    private const uint RemoveReasonTag = 2 << 3;
    private const uint TouchExpiresAtTag = 2 << 3;
    private const uint FlushAtTag = 1 << 3, FlushPendingTag = 2 << 3;

    public ulong Sequence;
    public LogRecord.ChangeOneofCase Change;
    /// <summary>The key of a store, remove or touch.</summary>
    public ReadOnlySpan<byte> Key;
    public ReadOnlySpan<byte> Value;
    public uint Flags;
    /// <summary>A store's or a touch's expiry.</summary>
    public long ExpiresAt;
    public ulong Cas;
    public RemoveReason Reason;
    public long FlushAt;
    public bool Pending;

    /// <summary>Decodes <paramref name="payload"/>; false, with why, for bytes <c>LogRecord.Parser</c> would refuse.</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public static bool TryDecode(ReadOnlySpan<byte> payload, out LogRecordView record, out string? problem)
    {
        var decoded = default(LogRecordView);
        var reader = new WireReader(payload);
        while (!reader.AtEnd)
        {
            var tag = reader.Tag();
            switch (tag)
            {
                case SequenceTag:
                    decoded.Sequence = reader.Varint();
                    break;
                case StoreTag:
                    decoded.Begin(LogRecord.ChangeOneofCase.Store);
                    decoded.MergeStore(ref reader);
                    break;
                case RemoveTag:
                    decoded.Begin(LogRecord.ChangeOneofCase.Remove);
                    decoded.MergeRemove(ref reader);
                    break;
                case TouchTag:
                    decoded.Begin(LogRecord.ChangeOneofCase.Touch);
                    decoded.MergeTouch(ref reader);
                    break;
                case FlushTag:
                    decoded.Begin(LogRecord.ChangeOneofCase.Flush);
                    decoded.MergeFlush(ref reader);
                    break;
                default:
                    reader.SkipField(tag);
                    break;
            }
        }
        record = decoded;
        problem = reader.Problem;
        return problem is null;
    }

    /// <summary>A change field for another change than the one read so far replaces it, as a oneof does.</summary>
    private void Begin(LogRecord.ChangeOneofCase change)
    {
        if (Change != change)
        {
            var sequence = Sequence;
            this = default;
            Sequence = sequence;
            Change = change;
        }
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void MergeStore(scoped ref WireReader outer)
    {
        var reader = outer.LengthDelimited();
        while (!reader.AtEnd)
        {
            var tag = reader.Tag();
            switch (tag)
            {
                case KeyTag: Key = reader.LengthDelimitedSpan(); break;
                case StoreValueTag: Value = reader.LengthDelimitedSpan(); break;
                case StoreFlagsTag: Flags = (uint)reader.Varint(); break;
                case StoreExpiresAtTag: ExpiresAt = (long)reader.Varint(); break;
                case StoreCasTag: Cas = reader.Varint(); break;
                default: reader.SkipField(tag); break;
            }
        }
        outer.FailWith(reader.Problem);
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void MergeRemove(scoped ref WireReader outer)
    {
        var reader = outer.LengthDelimited();
        while (!reader.AtEnd)
        {
            var tag = reader.Tag();
            switch (tag)
            {
                case KeyTag: Key = reader.LengthDelimitedSpan(); break;
                case RemoveReasonTag: Reason = (RemoveReason)(int)reader.Varint(); break;
                default: reader.SkipField(tag); break;
            }
        }
        outer.FailWith(reader.Problem);
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void MergeTouch(scoped ref WireReader outer)
    {
        var reader = outer.LengthDelimited();
        while (!reader.AtEnd)
        {
            var tag = reader.Tag();
            switch (tag)
            {
                case KeyTag: Key = reader.LengthDelimitedSpan(); break;
                case TouchExpiresAtTag: ExpiresAt = (long)reader.Varint(); break;
                default: reader.SkipField(tag); break;
            }
        }
        outer.FailWith(reader.Problem);
    }

    [MethodImpl(RestoreHotPath.Compile)]
    private void MergeFlush(scoped ref WireReader outer)
    {
        var reader = outer.LengthDelimited();
        while (!reader.AtEnd)
        {
            var tag = reader.Tag();
            switch (tag)
            {
                case FlushAtTag: FlushAt = (long)reader.Varint(); break;
                case FlushPendingTag: Pending = reader.Varint() != 0; break;
                default: reader.SkipField(tag); break;
            }
        }
        outer.FailWith(reader.Problem);
    }

    /// <summary>
    /// Protobuf's wire format over one message's bytes. The first malformed thing it meets sets <see cref="Problem"/>
    /// and ends the message (<see cref="AtEnd"/>), so the decoding loops need no error paths of their own; a nested
    /// message's reader hands its problem up with <see cref="FailWith"/>.
    /// </summary>
    private ref struct WireReader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;
        private string? _problem;

        public readonly string? Problem => _problem;

        public readonly bool AtEnd => _position >= _bytes.Length || _problem is not null;

        [MethodImpl(RestoreHotPath.Compile)]
        public uint Tag()
        {
            var tag = (uint)Varint();
            if (tag >> 3 == 0 && _problem is null)
            {
                Fail("invalid tag 0");
            }
            return tag;
        }

        [MethodImpl(RestoreHotPath.Compile)]
        public ulong Varint()
        {
            ulong result = 0;
            for (var i = 0; i < MaxVarintBytes; i++)
            {
                if (_position >= _bytes.Length)
                {
                    Fail("truncated varint");
                    return 0;
                }
                var b = _bytes[_position++];
                result |= (ulong)(b & 0x7f) << (7 * i);
                if (b < 0x80)
                {
                    return result;
                }
            }
            Fail("malformed varint");
            return 0;
        }

        [MethodImpl(RestoreHotPath.Compile)]
        public ReadOnlySpan<byte> LengthDelimitedSpan()
        {
            // Protobuf reads a length as a 32-bit varint: the upper bits of a longer one are dropped, a negative one refused.
            var length = (int)(uint)Varint();
            if (_problem is not null)
            {
                return default;
            }
            if (length < 0 || length > _bytes.Length - _position)
            {
                Fail("a length runs past the end of the record");
                return default;
            }
            var span = _bytes.Slice(_position, length);
            _position += length;
            return span;
        }

        /// <summary>A nested message's reader.</summary>
        public WireReader LengthDelimited() => new(LengthDelimitedSpan());

        public void SkipField(uint tag) => SkipField(tag, RecursionLimit);

        private void SkipField(uint tag, int depth)
        {
            switch (tag & 7)
            {
                case 0: Varint(); break;
                case 1: Skip(8); break;
                case 2: LengthDelimitedSpan(); break;
                case 3: SkipGroup(tag >> 3, depth); break;
                case 4: Fail("an end-group tag without its start-group"); break;
                case 5: Skip(4); break;
                default: Fail($"invalid wire type {tag & 7}"); break;
            }
        }

        private void SkipGroup(uint field, int depth)
        {
            if (depth == 0)
            {
                Fail("groups nested too deeply");
                return;
            }
            while (!AtEnd)
            {
                var tag = Tag();
                if ((tag & 7) == 4)
                {
                    if (tag >> 3 != field)
                    {
                        Fail("an end-group tag that does not match its start-group");
                    }
                    return;
                }
                SkipField(tag, depth - 1);
            }
            Fail("a group without its end-group tag");
        }

        private void Skip(int count)
        {
            if (count > _bytes.Length - _position)
            {
                Fail("a fixed-size field runs past the end of the record");
                return;
            }
            _position += count;
        }

        public void FailWith(string? problem) => _problem ??= problem;

        private void Fail(string problem) => _problem ??= problem;
    }
}

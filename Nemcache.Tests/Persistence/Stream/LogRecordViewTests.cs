using Google.Protobuf;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>
/// Replay's decoder (<see cref="LogRecordView"/>) against the generated parser, which defines the format: every record
/// kind, unknown and mistyped fields, repeated change fields, malformed bytes and random damage must read the same both
/// ways, accepted or refused alike.
/// </summary>
public sealed class LogRecordViewTests
{
    private static readonly byte[] Key = "some-key"u8.ToArray();
    private static readonly byte[] LongValue = Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray();

    private static IEnumerable<LogRecord> EveryKind()
    {
        yield return Store(Key, "value"u8.ToArray(), flags: 42, expiresAt: 1_700_000_100, cas: 77, sequence: 1);
        yield return Store(Key, LongValue, flags: uint.MaxValue, expiresAt: -1, cas: ulong.MaxValue, sequence: ulong.MaxValue);
        yield return Store([], [], flags: 0, expiresAt: 0, cas: 0, sequence: 0);
        yield return new LogRecord { Sequence = 5, Remove = new RemoveRecord { Key = ByteString.CopyFrom(Key) } };
        yield return new LogRecord
        {
            Sequence = 6,
            Remove = new RemoveRecord { Key = ByteString.CopyFrom(Key), Reason = RemoveReason.CapacityEviction },
        };
        yield return new LogRecord { Sequence = 7, Touch = new TouchRecord { Key = ByteString.CopyFrom(Key), ExpiresAt = 123 } };
        yield return new LogRecord { Sequence = 8, Touch = new TouchRecord { Key = ByteString.CopyFrom(Key) } };
        yield return LogRecord.ForFlush(1_700_000_000, pending: true, 9);
        yield return LogRecord.ForFlush(0, pending: false, 10);
        yield return new LogRecord { Sequence = 11 };
        yield return new LogRecord();
    }

    private static IEnumerable<int> Kinds => Enumerable.Range(0, EveryKind().Count());

    [TestCaseSource(nameof(Kinds))]
    public void Every_record_kind_decodes_as_the_generated_parser_reads_it(int kind) =>
        AssertSameBothWays(EveryKind().ElementAt(kind).ToByteArray());

    [TestCaseSource(nameof(Kinds))]
    public void Unknown_fields_of_every_wire_type_are_skipped_at_the_top_and_inside_the_change(int kind)
    {
        var record = EveryKind().ElementAt(kind);
        var bytes = record.ToByteArray();
        AssertSameBothWays([.. UnknownFields(), .. bytes, .. UnknownFields()]);
        if (record.ChangeCase != LogRecord.ChangeOneofCase.None)
        {
            var field = (int)record.ChangeCase;
            var change = ((IMessage)LogRecord.Descriptor.FindFieldByNumber(field).Accessor.GetValue(record)).ToByteArray();
            AssertSameBothWays([.. Varint(record.Sequence, tag: 1), .. LengthDelimited(field, [.. UnknownFields(), .. change, .. UnknownFields()])]);
        }
    }

    [Test]
    public void A_known_field_number_with_another_wire_type_is_skipped()
    {
        var store = Store(Key, "v"u8.ToArray(), 1, 2, 3, 4).ToByteArray();
        AssertSameBothWays([.. Fixed64(1), .. store]);
        AssertSameBothWays([.. store, .. Fixed32(2)]);
        AssertSameBothWays([.. LengthDelimited(1, [1, 2, 3]), .. store]);
        AssertSameBothWays(LengthDelimited(2, [.. Fixed32(1), .. Varint(9, tag: 2), .. Varint(5, tag: 3)]));
    }

    [Test]
    public void A_change_field_repeated_merges_into_the_same_change_and_replaces_another()
    {
        var first = Store(Key, "v"u8.ToArray(), flags: 1, expiresAt: 2, cas: 3, sequence: 4).ToByteArray();
        var second = new LogRecord { Store = new StoreRecord { Value = ByteString.CopyFromUtf8("w"), Cas = 9 } }.ToByteArray();
        var touch = new LogRecord { Touch = new TouchRecord { Key = ByteString.CopyFromUtf8("other"), ExpiresAt = 5 } }.ToByteArray();
        AssertSameBothWays([.. first, .. second]);
        AssertSameBothWays([.. first, .. touch]);
        AssertSameBothWays([.. touch, .. first]);
        AssertSameBothWays([.. first, .. touch, .. second]);
    }

    private static IEnumerable<TestCaseData> Malformed()
    {
        var store = Store(Key, "value"u8.ToArray(), 1, 2, 3, 4).ToByteArray();
        yield return new TestCaseData((object)store[..^1]).SetName("a truncated change");
        yield return new TestCaseData((object)new byte[] { 0x08, 0x80 }).SetName("a truncated varint");
        yield return new TestCaseData((object)Enumerable.Repeat((byte)0xff, 11).Prepend((byte)0x08).ToArray()).SetName("a varint over ten bytes");
        yield return new TestCaseData((object)new byte[] { 0x00, 0x01 }).SetName("tag zero");
        yield return new TestCaseData((object)new byte[] { 0x16, 0x01 }).SetName("wire type 6");
        yield return new TestCaseData((object)new byte[] { 0x17, 0x01 }).SetName("wire type 7");
        yield return new TestCaseData((object)new byte[] { 0x34 }).SetName("an end group without its start");
        yield return new TestCaseData((object)new byte[] { 0x33, 0x08, 0x01 }).SetName("a group without its end");
        yield return new TestCaseData((object)new byte[] { 0x33, 0x3c }).SetName("a group ended by another field's end");
        yield return new TestCaseData((object)new byte[] { 0x31, 1, 2, 3 }).SetName("a truncated fixed64");
        yield return new TestCaseData((object)new byte[] { 0x35, 1, 2 }).SetName("a truncated fixed32");
        yield return new TestCaseData((object)new byte[] { 0x12, 0x05, 0x0a, 0x10, 1, 2, 3 }).SetName("a key longer than its change");
        yield return new TestCaseData((object)new byte[] { 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f }).SetName("a negative length");
        yield return new TestCaseData((object)Enumerable.Repeat((byte)0x33, 101).Concat(Enumerable.Repeat((byte)0x34, 101)).ToArray())
            .SetName("groups nested past the recursion limit");
        yield return new TestCaseData((object)Enumerable.Repeat((byte)0x33, 99).Concat(Enumerable.Repeat((byte)0x34, 99)).ToArray())
            .SetName("groups nested within the recursion limit");
    }

    [TestCaseSource(nameof(Malformed))]
    public void Malformed_bytes_are_refused_or_accepted_as_the_generated_parser_does(byte[] bytes) => AssertSameBothWays(bytes);

    [Test]
    public void Randomly_damaged_records_read_the_same_both_ways()
    {
        var random = new Random(14);
        var records = EveryKind().Where(r => r.ChangeCase != LogRecord.ChangeOneofCase.None)
            .Select(r => r.ToByteArray()).Where(b => b.Length < 1000).ToArray();
        for (var i = 0; i < 50_000; i++)
        {
            var bytes = (byte[])records[random.Next(records.Length)].Clone();
            for (var hits = random.Next(1, 4); hits > 0; hits--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            AssertSameBothWays(bytes[..random.Next(bytes.Length / 2, bytes.Length + 1)]);
        }
    }

    private static void AssertSameBothWays(byte[] bytes)
    {
        LogRecord? parsed;
        try
        {
            parsed = LogRecord.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            parsed = null;
        }
        var decoded = LogRecordView.TryDecode(bytes, out var view, out var problem);
        var hex = Convert.ToHexString(bytes);
        Assert.That(decoded, Is.EqualTo(parsed is not null), $"{hex}: parser {(parsed is null ? "refused" : "accepted")}, view {problem ?? "accepted"}");
        if (parsed is null)
        {
            Assert.That(problem, Is.Not.Null.And.Not.Empty);
            return;
        }
        Assert.That(view.Sequence, Is.EqualTo(parsed.Sequence), hex);
        Assert.That(view.Change, Is.EqualTo(parsed.ChangeCase), hex);
        switch (parsed.ChangeCase)
        {
            case LogRecord.ChangeOneofCase.Store:
                Assert.That(view.Key.ToArray(), Is.EqualTo(parsed.Store.Key.ToByteArray()), hex);
                Assert.That(view.Value.ToArray(), Is.EqualTo(parsed.Store.Value.ToByteArray()), hex);
                Assert.That(view.Flags, Is.EqualTo(parsed.Store.Flags), hex);
                Assert.That(view.ExpiresAt, Is.EqualTo(parsed.Store.ExpiresAt), hex);
                Assert.That(view.Cas, Is.EqualTo(parsed.Store.Cas), hex);
                break;
            case LogRecord.ChangeOneofCase.Remove:
                Assert.That(view.Key.ToArray(), Is.EqualTo(parsed.Remove.Key.ToByteArray()), hex);
                Assert.That(view.Reason, Is.EqualTo(parsed.Remove.Reason), hex);
                break;
            case LogRecord.ChangeOneofCase.Touch:
                Assert.That(view.Key.ToArray(), Is.EqualTo(parsed.Touch.Key.ToByteArray()), hex);
                Assert.That(view.ExpiresAt, Is.EqualTo(parsed.Touch.ExpiresAt), hex);
                break;
            case LogRecord.ChangeOneofCase.Flush:
                Assert.That(view.FlushAt, Is.EqualTo(parsed.Flush.FlushAt), hex);
                Assert.That(view.Pending, Is.EqualTo(parsed.Flush.Pending), hex);
                break;
        }
    }

    private static LogRecord Store(byte[] key, byte[] value, uint flags, long expiresAt, ulong cas, ulong sequence) => new()
    {
        Sequence = sequence,
        Store = new StoreRecord
        {
            Key = ByteString.CopyFrom(key),
            Value = ByteString.CopyFrom(value),
            Flags = flags,
            ExpiresAt = expiresAt,
            Cas = cas,
        },
    };

    /// <summary>Fields numbered above any the format uses, one of each wire type, a group holding a nested group too.</summary>
    private static byte[] UnknownFields() =>
    [
        .. Varint(300, tag: 90),
        .. Tag(91, 1), 1, 2, 3, 4, 5, 6, 7, 8,
        .. LengthDelimited(92, [1, 2, 3]),
        .. Tag(93, 3), .. Varint(1, tag: 94), .. Tag(95, 3), .. Tag(95, 4), .. Tag(93, 4),
        .. Tag(96, 5), 1, 2, 3, 4,
    ];

    private static byte[] Tag(int field, int wireType) => VarintBytes((ulong)(field << 3 | wireType));

    private static byte[] Varint(ulong value, int tag) => [.. Tag(tag, 0), .. VarintBytes(value)];

    private static byte[] Fixed64(int field) => [.. Tag(field, 1), 1, 2, 3, 4, 5, 6, 7, 8];

    private static byte[] Fixed32(int field) => [.. Tag(field, 5), 1, 2, 3, 4];

    private static byte[] LengthDelimited(int field, byte[] bytes) => [.. Tag(field, 2), .. VarintBytes((ulong)bytes.Length), .. bytes];

    private static byte[] VarintBytes(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
        return [.. bytes];
    }
}

using Nemcache.Storage.Persistence;
using System.Text;
using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

public class DataRecordTests
{
    [Test]
    public void Crc32C_matches_the_published_check_value()
    {
        Assert.That(Crc32C.Compute("123456789"u8), Is.EqualTo(0xE3069283u));
    }

    [TestCase(RecordType.Put, "key", "value", 7u, 1_800_000_000L)]
    [TestCase(RecordType.Put, "k", "", 0u, 0L)]
    [TestCase(RecordType.Tombstone, "gone", "", 0u, 0L)]
    [TestCase(RecordType.Touch, "touched", "", 0u, 1_900_000_000L)]
    [TestCase(RecordType.Flush, "", "", 0u, 1_700_000_000L)]
    [TestCase(RecordType.DelayedFlush, "", "", 0u, 1_700_000_100L)]
    public void A_record_decodes_to_what_was_encoded(RecordType type, string key, string value, uint flags, long expiresAt)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var valueBytes = Encoding.UTF8.GetBytes(value);
        var buffer = new byte[DataRecord.SizeOf(keyBytes.Length, valueBytes.Length)];

        var size = DataRecord.Encode(buffer, type, 42, expiresAt, flags, keyBytes, valueBytes);
        var status = DataRecord.Decode(buffer, 1000, out var info);

        Assert.Multiple(() =>
        {
            Assert.That(size, Is.EqualTo(buffer.Length));
            Assert.That(status, Is.EqualTo(DecodeStatus.Ok));
            Assert.That(info, Is.EqualTo(new RecordInfo(type, 42, expiresAt, flags, keyBytes.Length, valueBytes.Length, 1000)));
            Assert.That(DataRecord.KeyOf(buffer, info).ToArray(), Is.EqualTo(keyBytes));
            Assert.That(DataRecord.ValueOf(buffer, info).ToArray(), Is.EqualTo(valueBytes));
            Assert.That(info.ValueOffset, Is.EqualTo(1000 + BitcaskFormat.RecordHeaderSize + keyBytes.Length));
        });
    }

    [Test]
    public void The_header_lies_where_the_format_document_says()
    {
        var buffer = new byte[DataRecord.SizeOf(2, 3)];
        DataRecord.Encode(buffer, RecordType.Put, 0x0102030405060708, 0x1112131415161718, 0x21222324, "ab"u8, "xyz"u8,
            cas: 0x3132333435363738);

        Assert.Multiple(() =>
        {
            Assert.That(buffer[4..12], Is.EqualTo(new byte[] { 8, 7, 6, 5, 4, 3, 2, 1 }), "sequence number");
            Assert.That(buffer[12..20], Is.EqualTo(new byte[] { 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11 }), "expiry");
            Assert.That(buffer[20..24], Is.EqualTo(new byte[] { 0x24, 0x23, 0x22, 0x21 }), "flags");
            Assert.That(buffer[24..26], Is.EqualTo(new byte[] { 2, 0 }), "key size");
            Assert.That(buffer[26..30], Is.EqualTo(new byte[] { 3, 0, 0, 0 }), "value size");
            Assert.That(buffer[30], Is.EqualTo((byte)RecordType.Put), "type");
            Assert.That(buffer[31..39], Is.EqualTo(new byte[] { 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31 }), "CAS");
            Assert.That(buffer[39..], Is.EqualTo("abxyz"u8.ToArray()), "key then value");
            Assert.That(BitConverter.ToUInt32(buffer, 0), Is.EqualTo(Crc32C.Compute(buffer.AsSpan(4))), "CRC of the rest");
        });
    }

    [Test]
    public void Every_flipped_bit_is_caught()
    {
        var buffer = new byte[DataRecord.SizeOf(3, 5)];
        DataRecord.Encode(buffer, RecordType.Put, 9, 0, 1, "key"u8, "value"u8);

        for (var bit = 0; bit < buffer.Length * 8; bit++)
        {
            var damaged = (byte[])buffer.Clone();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(DataRecord.Decode(damaged, 0, out _), Is.Not.EqualTo(DecodeStatus.Ok), $"bit {bit}");
        }
    }

    [Test]
    public void A_short_or_impossible_header_is_told_apart_from_a_bad_crc()
    {
        var buffer = new byte[DataRecord.SizeOf(3, 5)];
        DataRecord.Encode(buffer, RecordType.Put, 9, 0, 1, "key"u8, "value"u8);
        var wrongType = (byte[])buffer.Clone();
        wrongType[BitcaskFormat.RecordTypeOffset] = 99;
        var wrongValue = (byte[])buffer.Clone();
        wrongValue[^1] ^= 1;

        Assert.Multiple(() =>
        {
            Assert.That(DataRecord.Decode(buffer.AsSpan(0, buffer.Length - 1), 0, out _), Is.EqualTo(DecodeStatus.Incomplete));
            Assert.That(DataRecord.Decode(buffer.AsSpan(0, 10), 0, out _), Is.EqualTo(DecodeStatus.Incomplete));
            Assert.That(DataRecord.Decode(wrongType, 0, out _), Is.EqualTo(DecodeStatus.Garbage));
            Assert.That(DataRecord.Decode(new byte[40], 0, out _), Is.EqualTo(DecodeStatus.Garbage));
            Assert.That(DataRecord.Decode(wrongValue, 0, out _), Is.EqualTo(DecodeStatus.BadCrc));
        });
    }
}

using System.Buffers.Binary;
using System.Text;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// A put keeps the item's CAS unique (format version 2) through hints, scans and merges; files of version 1, which
/// had no CAS field, are still read, and their items come back with none (the cache gives them a fresh one).
/// </summary>
public sealed class CasRecordTests : BitcaskTestBase
{
    private static Dictionary<string, (string Value, ulong Cas)> LoadAll(Engine engine)
    {
        var loaded = new Dictionary<string, (string, ulong)>();
        engine.ForEachLive(item => loaded.Add(Encoding.UTF8.GetString(item.Key), (Encoding.UTF8.GetString(item.Value), item.Cas)));
        return loaded;
    }

    [Test]
    public void A_put_keeps_its_cas_through_a_clean_restart_a_crash_and_a_merge()
    {
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0, cas: 0x0000_0100_0000_0007);
        engine.Put(B("b"), B("two"), 0, 0, cas: 42);
        engine.Touch(B("b"), 0);
        Assert.That(LoadAll(engine = Reopen(engine))["a"], Is.EqualTo(("one", 0x0000_0100_0000_0007UL)), "through the hint");
        Assert.That(LoadAll(engine = CrashAndReopen(engine))["b"], Is.EqualTo(("two", 42UL)), "through a scan");
        engine.MergeAsync().Wait();
        Assert.That(LoadAll(engine = Reopen(engine)), Is.EqualTo(new Dictionary<string, (string, ulong)>
        {
            ["a"] = ("one", 0x0000_0100_0000_0007UL), ["b"] = ("two", 42UL),
        }), "a merge copies the CAS, and a folded touch keeps its put's");
    }

    [Test]
    public void A_version_1_data_file_is_read_and_merged_and_its_items_have_no_cas()
    {
        Directory.CreateDirectory(DataDirectory);
        WriteVersion1File(DataFilePath(1), ("a", "old", 1), ("b", "bee", 2), ("a", "new", 3));
        var engine = Open();
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, (string, ulong)> { ["a"] = ("new", 0UL), ["b"] = ("bee", 0UL) }));
        engine.Put(B("c"), B("sea"), 0, 0, cas: 9);
        engine.MergeAsync().Wait();
        engine = CrashAndReopen(engine);
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, (string, ulong)>
        {
            ["a"] = ("new", 0UL), ["b"] = ("bee", 0UL), ["c"] = ("sea", 9UL),
        }));
        Assert.That(File.Exists(DataFilePath(1)), Is.False, "the version 1 file was merged away");
    }

    [Test]
    public void A_file_of_a_later_version_is_refused_in_one_line()
    {
        Directory.CreateDirectory(DataDirectory);
        WriteVersion1File(DataFilePath(1), ("a", "old", 1));
        var bytes = File.ReadAllBytes(DataFilePath(1));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), BitcaskFormat.Version + 1);
        File.WriteAllBytes(DataFilePath(1), bytes);
        var error = Assert.Throws<PersistenceException>(() => Open());
        Assert.That(error!.Message, Does.Contain($"format version {BitcaskFormat.Version + 1}"));
    }

    /// <summary>Writes a data file as format version 1 wrote it: 31-byte record headers, no CAS.</summary>
    private static void WriteVersion1File(string path, params (string Key, string Value, long Seq)[] puts)
    {
        using var stream = File.Create(path);
        var header = new byte[BitcaskFormat.FileHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, BitcaskFormat.DataMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), 1234);
        stream.Write(header);
        foreach (var (key, value, seq) in puts)
        {
            var record = new byte[31 + key.Length + value.Length];
            BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(4), seq);
            BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(24), (ushort)key.Length);
            BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(26), value.Length);
            record[30] = (byte)RecordType.Put;
            Encoding.ASCII.GetBytes(key).CopyTo(record, 31);
            Encoding.ASCII.GetBytes(value).CopyTo(record, 31 + key.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record.AsSpan(4)));
            stream.Write(record);
        }
    }
}

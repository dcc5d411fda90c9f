using Microsoft.Extensions.Logging;
using Nemcache.Storage.Bitcask;
using Nemcache.Tests.Support;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// What recovery says about damage: one warning per stretch it could not use, naming the file, the byte count and the
/// offset (the lines tests/corrupt.py parses), while every other key survives.
/// </summary>
public sealed class DamageReportTests : BitcaskTestBase
{
    private static readonly int RecordSize = DataRecord.SizeOf("a".Length, "one".Length);
    private static readonly int SecondRecord = BitcaskFormat.FileHeaderSize + RecordSize;

    private ListLogger<Engine> _log = null!;

    private IEnumerable<string> Warnings => _log.At(LogLevel.Warning);

    [SetUp]
    public void NewLog() => _log = new ListLogger<Engine>();

    /// <summary>Writes a, b and c (three records of the same size in data.1); a clean close also writes the hint.</summary>
    private void WriteThreeKeys(bool clean)
    {
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0);
        engine.Put(B("b"), B("two"), 0, 0);
        engine.Put(B("c"), B("six"), 0, 0);
        if (clean)
        {
            engine.Dispose();
        }
        else
        {
            engine.Abandon();
        }
    }

    private static void Damage(string path, int offset)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    private static Dictionary<string, string> LoadAll(Engine engine)
    {
        var loaded = new Dictionary<string, string>();
        engine.ForEachLive(item => loaded.Add(System.Text.Encoding.UTF8.GetString(item.Key), System.Text.Encoding.UTF8.GetString(item.Value)));
        return loaded;
    }

    [Test]
    public void A_damaged_record_in_the_middle_of_a_scanned_file_is_reported_with_its_file_offset_and_size()
    {
        WriteThreeKeys(clean: false);
        Damage(DataFilePath(1), SecondRecord + BitcaskFormat.RecordHeaderSize + 1);

        var engine = Open(logger: _log);

        Assert.That(Warnings, Is.EqualTo(new[]
        {
            $"{DataFilePath(1)}: skipped a damaged record, {RecordSize} bytes at offset {SecondRecord}: checksum mismatch",
        }));
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }));
    }

    [Test]
    public void A_damaged_header_costs_only_its_record_the_scan_finds_the_next_intact_one()
    {
        WriteThreeKeys(clean: false);
        Damage(DataFilePath(1), SecondRecord + BitcaskFormat.RecordTypeOffset);

        var engine = Open(logger: _log);

        Assert.That(Warnings.Single(), Is.EqualTo(
            $"{DataFilePath(1)}: skipped a damaged record, {RecordSize} bytes at offset {SecondRecord}: unreadable record header"));
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }));
    }

    [TestCase(BitcaskFormat.RecordValueSizeOffset + 3, TestName = "A flipped high byte of a value size in the middle of the newest file is not a torn tail")]
    [TestCase(BitcaskFormat.RecordKeySizeOffset + 1, TestName = "A flipped high byte of a key size in the middle of the newest file is not a torn tail")]
    public void A_damaged_length_in_the_middle_of_the_newest_file_costs_only_its_record(int offset)
    {
        var engine = Open();
        Fill(engine, "key", 20);
        engine.Abandon();
        var intact = File.ReadAllBytes(DataFilePath(1));
        var third = BitcaskFormat.FileHeaderSize + 2 * DataRecord.SizeOf("key0".Length, "key-value-0".Length);
        Damage(DataFilePath(1), third + offset);

        engine = Open(logger: _log);

        Assert.That(Warnings.Single(), Does.StartWith($"{DataFilePath(1)}: skipped a damaged record, "));
        AssertFilled(engine, "key", 20, absent: 2);
        var bytes = File.ReadAllBytes(DataFilePath(1));
        bytes[third + offset] ^= 0xFF;
        Assert.That(bytes, Is.EqualTo(intact), "no byte of the damaged file is cut or rewritten");
    }

    [Test]
    public void A_damaged_value_behind_an_intact_hint_drops_its_key_when_loaded_and_says_where()
    {
        WriteThreeKeys(clean: true);
        Damage(DataFilePath(1), SecondRecord + BitcaskFormat.RecordHeaderSize + 1);

        var engine = Open(logger: _log);
        var loaded = LoadAll(engine);

        Assert.Multiple(() =>
        {
            Assert.That(engine.LastRecovery.FilesFromHints, Is.EqualTo(1));
            Assert.That(loaded, Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }));
            Assert.That(Warnings, Is.EqualTo(new[]
            {
                $"{DataFilePath(1)}: damaged value record, {RecordSize} bytes at offset {SecondRecord}: checksum mismatch; its key is dropped",
            }));
            Assert.That(engine.GetStatistics().LiveBytes, Is.EqualTo(2 * RecordSize),
                "the dropped key's record no longer counts as live, which merge decisions rest on");
        });
    }

    [Test]
    public void A_damaged_hint_is_reported_and_its_data_file_scanned_instead()
    {
        WriteThreeKeys(clean: true);
        var hint = DataFilePath(1) + BitcaskFormat.HintSuffix;
        Damage(hint, BitcaskFormat.FileHeaderSize + 3);

        var engine = Open(logger: _log);

        Assert.Multiple(() =>
        {
            Assert.That(engine.LastRecovery.FilesFromHints, Is.Zero);
            Assert.That(Warnings.Single(), Does.StartWith($"{hint}: ignored, it is damaged or does not describe {DataFilePath(1)}"));
            Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["b"] = "two", ["c"] = "six" }));
        });
    }

    [Test]
    public void A_hint_whose_data_file_is_gone_is_reported_as_a_lost_file()
    {
        Options = Options with { MaxFileBytes = 100 };
        WriteThreeKeys(clean: true);
        var ids = DataFileIds();
        Assert.That(ids, Has.Length.GreaterThan(1), "one record per file");
        File.Delete(DataFilePath(ids[0]));

        var engine = Open(logger: _log);

        Assert.Multiple(() =>
        {
            Assert.That(Warnings, Has.Some.StartWith($"{DataFilePath(ids[0])}: lost (missing or empty); its intact hint names the 1 records it held"));
            Assert.That(Warnings, Has.Some.StartWith($"{DataFilePath(ids[0])}.hint: removed, its data file is missing"));
            Assert.That(LoadAll(engine), Does.Not.ContainKey("a").And.ContainKey("c"));
        });
    }

    [Test]
    public void An_emptied_newest_data_file_with_an_intact_hint_costs_its_keys_and_never_serves_older_values()
    {
        var engine = Open();
        engine.Put(B("a"), B("old"), 0, 0);
        engine.Put(B("b"), B("deleted later"), 0, 0);
        engine.Put(B("c"), B("kept"), 0, 0);
        engine = Reopen(engine);
        engine.Put(B("a"), B("new"), 0, 0);
        engine.Delete(B("b"));
        engine.Put(B("d"), B("only here"), 0, 0);
        engine.Dispose();
        File.WriteAllBytes(DataFilePath(2), []);

        engine = Open(logger: _log);

        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["c"] = "kept" }),
            "a's newer value is lost: a is dropped, not served stale; b stays deleted");
        Assert.That(Warnings, Is.EqualTo(new[]
        {
            $"{DataFilePath(2)}: lost (missing or empty); its intact hint names the 3 records it held",
            "Dropped 2 keys whose newest record was in a lost data file; tombstones keep their older values from coming back",
            $"{DataFilePath(2)}.hint: removed, its data file is missing (every record of that file is lost)",
        }));
        engine = CrashAndReopen(engine);
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["c"] = "kept" }), "the tombstones are on disk");
    }

    [Test]
    public void A_merge_goes_on_when_the_put_behind_a_touch_went_bad_after_the_start()
    {
        Options = Options with { MaxFileBytes = 100 };
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0);
        engine.Put(B("b"), B("two"), 0, 0);
        engine.Touch(B("a"), 4_000_000_000);
        engine.Dispose();
        engine = Open(logger: _log);
        Damage(DataFilePath(1), BitcaskFormat.FileHeaderSize + BitcaskFormat.RecordHeaderSize + 1);

        Assert.That(() => engine.MergeAsync().Wait(), Throws.Nothing, "folding the touch into its put cannot read the put");

        Assert.That(engine.GetStatistics().MergesRun, Is.EqualTo(1));
        engine = Reopen(engine);
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["b"] = "two" }));
    }

    [Test]
    public void A_merge_sets_a_damaged_file_aside_before_it_replaces_it()
    {
        WriteThreeKeys(clean: true);
        Damage(DataFilePath(1), SecondRecord + BitcaskFormat.RecordHeaderSize + 1);
        var damaged = File.ReadAllBytes(DataFilePath(1));
        var engine = Open(logger: _log);

        engine.MergeAsync().Wait();

        Assert.That(File.Exists(DataFilePath(1)), Is.False, "the merge replaced it");
        Assert.That(File.ReadAllBytes(DataFilePath(1) + BitcaskFormat.DamagedSuffix), Is.EqualTo(damaged),
            "every byte of the damaged file is kept");
        engine.Dispose();
        engine = Open(logger: _log);
        Assert.That(Warnings, Has.Some.Contains("data.1.damaged: a damaged data file a merge set aside"));
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }));
    }

    [Test]
    public void A_merge_keeps_the_intact_values_behind_a_damaged_header_that_its_scan_cannot_frame()
    {
        WriteThreeKeys(clean: true);
        Damage(DataFilePath(1), SecondRecord + BitcaskFormat.RecordTypeOffset);
        var engine = Open(logger: _log);
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }),
            "the hint still places c");

        engine.MergeAsync().Wait();

        Assert.That(Warnings, Has.Some.StartWith($"{DataFilePath(1)}: the merge skipped a damaged record, "));
        engine = Reopen(engine);
        Assert.That(LoadAll(engine), Is.EqualTo(new Dictionary<string, string> { ["a"] = "one", ["c"] = "six" }));
    }
}

using Nemcache.Storage.Bitcask;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// A key's newest record may vanish from the files only when no older record of that key can outlive it; otherwise a
/// tombstone takes its place (RecordDropRule). Each test leaves an older put of "k" in a file that the operation does
/// not touch, and checks that it never comes back.
/// </summary>
public sealed class RecordDropRuleTests : BitcaskTestBase
{
    private static readonly string Big = new('x', 2000);

    /// <summary>data.1: "k" = "old" (no expiry) among large live values, so that data.1 is never fragmented.</summary>
    private Engine WriteOldValueAmongLiveOnes()
    {
        var engine = Open();
        engine.Put(B("k"), B("old"), 0, 0);
        for (var i = 0; i < 5; i++)
        {
            engine.Put(B("live" + i), B(Big), 0, 0);
        }
        return Reopen(engine);
    }

    private static void AssertLiveValuesKept(Engine engine) =>
        AssertValues(engine, [.. Enumerable.Range(0, 5).Select(i => ("live" + i, (string?)Big))]);

    [Test]
    public void A_put_that_expired_while_the_process_was_down_is_not_dropped_by_a_merge_of_its_file_alone()
    {
        var engine = WriteOldValueAmongLiveOnes();
        engine.Put(B("k"), B("new"), 0, Clock.UnixSeconds + 10);
        engine = Reopen(engine);
        Clock.AdvanceSeconds(20);
        engine = Reopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null);

        engine.MergeFragmentedAsync().Wait();
        Assert.That(File.Exists(DataFilePath(2)), Is.False, "the file with the expired put was merged");
        Assert.That(File.Exists(DataFilePath(1)), Is.True, "the file with the old put was not");

        engine = CrashAndReopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null, "the overwritten value stays gone");
        AssertLiveValuesKept(engine);
    }

    [Test]
    public void A_touch_that_shortened_the_expiry_is_not_dropped_by_a_merge_of_its_file_alone()
    {
        var engine = WriteOldValueAmongLiveOnes();
        engine.Touch(B("k"), Clock.UnixSeconds + 10);
        engine = Reopen(engine);
        Clock.AdvanceSeconds(20);
        engine = Reopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null);

        engine.MergeFragmentedAsync().Wait();
        Assert.That(File.Exists(DataFilePath(2)), Is.False, "the file with the touch was merged");

        engine = CrashAndReopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null, "the value whose expiry passed does not come back without one");
    }

    [Test]
    public void A_damaged_tombstone_in_a_merge_of_only_the_fragmented_files_does_not_bring_the_old_value_back()
    {
        var engine = WriteOldValueAmongLiveOnes();
        engine.Put(B("dead"), B("d"), 0, 0);
        engine.Delete(B("dead"));
        var tombstoneAt = new FileInfo(DataFilePath(2)).Length;
        engine.Delete(B("k"));
        engine.Put(B("after"), B("a"), 0, 0);
        engine = Reopen(engine);
        // Damage the tombstone's header after its hint was written: recovery reads the hint, a merge scans the file.
        var bytes = File.ReadAllBytes(DataFilePath(2));
        bytes[tombstoneAt + BitcaskFormat.RecordTypeOffset] = 0x7F;
        File.WriteAllBytes(DataFilePath(2), bytes);
        engine = Reopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null);

        engine.MergeFragmentedAsync().Wait();

        engine = CrashAndReopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null, "the deleted value stays gone");
        AssertLiveValuesKept(engine);
    }

    [Test]
    public void A_key_whose_newest_value_is_found_damaged_at_load_keeps_a_tombstone()
    {
        var engine = WriteOldValueAmongLiveOnes();
        engine.Put(B("k"), B("new"), 0, 0);
        engine.WritePending();
        var newValueAt = new FileInfo(DataFilePath(2)).Length - "new".Length;
        engine = Reopen(engine);
        var bytes = File.ReadAllBytes(DataFilePath(2));
        bytes[newValueAt] ^= 0xFF;
        File.WriteAllBytes(DataFilePath(2), bytes);

        engine = Reopen(engine);
        var loaded = new List<string>();
        engine.ForEachLive(item => loaded.Add(System.Text.Encoding.UTF8.GetString(item.Key)));
        Assert.That(loaded, Does.Not.Contain("k"), "read through the intact hint, the damaged value is dropped at load");

        // Without the hint the next start scans data.2, skips the damaged record and meets the old put in data.1.
        File.Delete(DataFilePath(2) + BitcaskFormat.HintSuffix);
        engine = CrashAndReopen(engine);
        Assert.That(ValueOf(engine, "k"), Is.Null, "the older value is never served in place of the lost one");
    }
}

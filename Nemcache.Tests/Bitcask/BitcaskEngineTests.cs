using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

public class BitcaskEngineTests : BitcaskTestBase
{
    [Test]
    public void Values_flags_and_expiry_survive_a_clean_restart()
    {
        var engine = Open();
        engine.Put(B("a"), B("apple"), 5, 0);
        engine.Put(B("b"), B("banana"), 6, Clock.UnixSeconds + 100);

        engine = Reopen(engine);

        Assert.That(engine.TryGet(B("b"), out var b), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "a"), Is.EqualTo("apple"));
            Assert.That(b.Value, Is.EqualTo(B("banana")));
            Assert.That(b.Flags, Is.EqualTo(6u));
            Assert.That(b.ExpiresAt, Is.EqualTo(Clock.UnixSeconds + 100));
            Assert.That(engine.LastRecovery.Keys, Is.EqualTo(2));
        });
    }

    [Test]
    public void Overwrites_and_deletes_survive_a_crash()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine.Put(B("a"), B("2"), 0, 0);
        engine.Put(B("gone"), B("x"), 0, 0);
        engine.Delete(B("gone"));

        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "a"), Is.EqualTo("2"));
            Assert.That(ValueOf(engine, "gone"), Is.Null);
            Assert.That(engine.LastRecovery.Keys, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_restart_starts_a_new_active_file()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine = CrashAndReopen(engine);
        engine.Put(B("b"), B("2"), 0, 0);
        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(DataFileIds(), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(ValueOf(engine, "a"), Is.EqualTo("1"));
            Assert.That(ValueOf(engine, "b"), Is.EqualTo("2"));
        });
    }

    [Test]
    public void The_active_file_rotates_at_the_size_limit_and_immutable_files_get_hints()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        Fill(engine, "key", 20);
        engine = Reopen(engine);

        var ids = DataFileIds();
        Assert.Multiple(() =>
        {
            Assert.That(ids.Length, Is.GreaterThan(3));
            foreach (var id in ids[..^1])
            {
                Assert.That(new FileInfo(DataFilePath(id)).Length, Is.LessThanOrEqualTo(200), $"data.{id}");
                Assert.That(File.Exists(DataFilePath(id) + ".hint"), Is.True, $"data.{id}.hint");
            }
            Assert.That(engine.LastRecovery.FilesFromHints, Is.EqualTo(engine.LastRecovery.Files));
        });
        AssertFilled(engine, "key", 20);
    }

    [Test]
    public void A_damaged_or_stale_hint_is_ignored_and_the_data_file_scanned()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        Fill(engine, "key", 20);
        engine.Delete(B("key3"));
        engine.Dispose();
        var ids = DataFileIds();
        var flipped = File.ReadAllBytes(DataFilePath(ids[0]) + ".hint");
        flipped[flipped.Length / 2] ^= 0x40;
        File.WriteAllBytes(DataFilePath(ids[0]) + ".hint", flipped);
        File.Delete(DataFilePath(ids[1]) + ".hint");
        File.Copy(DataFilePath(ids[3]) + ".hint", DataFilePath(ids[2]) + ".hint", overwrite: true);

        engine = Open();

        Assert.Multiple(() =>
        {
            Assert.That(engine.LastRecovery.FilesFromHints, Is.EqualTo(ids.Length - 3));
            Assert.That(engine.LastRecovery.Keys, Is.EqualTo(19));
        });
        AssertFilled(engine, "key", 20, absent: 3);
    }

    [Test]
    public void A_torn_last_record_is_skipped_at_every_byte_offset()
    {
        var engine = Open();
        engine.Put(B("first"), B("one"), 0, 0);
        engine.Put(B("second"), B("two"), 0, 0);
        engine.Abandon();
        var path = DataFilePath(1);
        var intact = File.ReadAllBytes(path);
        var lastRecord = DataRecord.SizeOf("second".Length, "two".Length);
        var lastStart = intact.Length - lastRecord;

        for (var cut = lastStart + 1; cut < intact.Length; cut++)
        {
            foreach (var file in Directory.EnumerateFiles(DataDirectory))
            {
                File.Delete(file);
            }
            File.WriteAllBytes(path, intact[..cut]);

            var reopened = Open();

            Assert.Multiple(() =>
            {
                Assert.That(ValueOf(reopened, "first"), Is.EqualTo("one"), $"cut at {cut}");
                Assert.That(ValueOf(reopened, "second"), Is.Null, $"cut at {cut}");
                Assert.That(reopened.LastRecovery.TornTails, Is.EqualTo(1), $"cut at {cut}");
                Assert.That(reopened.LastRecovery.RecordsSkipped, Is.Zero, $"cut at {cut}");
                Assert.That(new FileInfo(path).Length, Is.EqualTo(cut), $"cut at {cut}: the torn bytes stay");
            });
            reopened.Abandon();
        }
    }

    [Test]
    public void A_zero_filled_tail_is_skipped_like_a_torn_record()
    {
        var engine = Open();
        engine.Put(B("first"), B("one"), 0, 0);
        engine.Abandon();
        var intact = new FileInfo(DataFilePath(1)).Length;
        using (var stream = new FileStream(DataFilePath(1), FileMode.Append))
        {
            stream.Write(new byte[100]);
        }

        engine = Open();

        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "first"), Is.EqualTo("one"));
            Assert.That(engine.LastRecovery.TornTails, Is.EqualTo(1));
            Assert.That(new FileInfo(DataFilePath(1)).Length, Is.EqualTo(intact + 100), "the zeros stay");
        });
    }

    [Test]
    public void A_record_with_a_bad_crc_in_the_middle_is_skipped_and_counted()
    {
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0);
        engine.Put(B("b"), B("two"), 0, 0);
        engine.Put(B("c"), B("three"), 0, 0);
        engine.Abandon();
        var bytes = File.ReadAllBytes(DataFilePath(1));
        var secondValue = BitcaskFormat.FileHeaderSize + DataRecord.SizeOf(1, 3) + BitcaskFormat.RecordHeaderSize + 1;
        bytes[secondValue] ^= 0xFF;
        File.WriteAllBytes(DataFilePath(1), bytes);

        engine = Open();

        AssertValues(engine, ("a", "one"), ("b", null), ("c", "three"));
        Assert.Multiple(() =>
        {
            Assert.That(engine.LastRecovery.RecordsSkipped, Is.EqualTo(1));
            Assert.That(engine.LastRecovery.TornTails, Is.Zero);
        });
    }

    [Test]
    public void The_highest_sequence_number_wins_whatever_the_file_order()
    {
        Options = Options with { MaxFileBytes = 100 };
        var engine = Open();
        engine.Put(B("k"), B("old"), 0, 0);
        engine.Put(B("filler"), B(new string('f', 40)), 0, 0);
        engine.Put(B("other"), B("x"), 0, 0);
        engine.MergeAsync().Wait();
        var mergedIds = DataFileIds();
        engine.Put(B("k"), B("new"), 0, 0);

        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(mergedIds[^1], Is.GreaterThan(mergedIds[^2]), "a merge output outnumbers the active file");
            Assert.That(ValueOf(engine, "k"), Is.EqualTo("new"));
        });
    }

    [Test]
    public void Expired_items_are_not_recovered()
    {
        var engine = Open();
        engine.Put(B("short"), B("s"), 0, Clock.UnixSeconds + 10);
        engine.Put(B("long"), B("l"), 0, Clock.UnixSeconds + 1000);
        Clock.AdvanceSeconds(10);

        Assert.That(ValueOf(engine, "short"), Is.Null, "expired before the restart");
        engine = Reopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "short"), Is.Null);
            Assert.That(ValueOf(engine, "long"), Is.EqualTo("l"));
            Assert.That(engine.LastRecovery.Keys, Is.EqualTo(1));
        });
    }

    [Test]
    public void Records_reach_the_active_file_together_at_the_commit()
    {
        var engine = Open();
        var empty = new FileInfo(DataFilePath(1)).Length;
        for (var i = 0; i < 10; i++)
        {
            engine.Put(B($"k{i}"), B("v"), 0, 0);
        }

        Assert.That(new FileInfo(DataFilePath(1)).Length, Is.EqualTo(empty), "the records wait for the commit");
        Assert.That(engine.WritePending(), Is.Null);
        Assert.That(new FileInfo(DataFilePath(1)).Length, Is.EqualTo(empty + 10 * DataRecord.SizeOf(2, 1)));
        engine.Dispose();
    }

    [Test]
    public void A_kill_before_the_commit_loses_only_the_uncommitted_records()
    {
        var engine = Open();
        engine.Put(B("committed"), B("1"), 0, 0);
        engine.WritePending();
        engine.Put(B("pending"), B("2"), 0, 0);
        Assert.That(ValueOf(engine, "pending"), Is.EqualTo("2"), "a read of the active file writes the pending records first");
        engine.Put(B("lost"), B("3"), 0, 0);

        engine.AbandonBeforeCommit();
        engine = Open();

        AssertValues(engine, ("committed", "1"), ("pending", "2"), ("lost", null));
        engine.Dispose();
    }

    [Test]
    public void A_touch_writes_a_small_record_and_its_expiry_survives()
    {
        var engine = Open();
        engine.Put(B("k"), B(new string('v', 1000)), 3, Clock.UnixSeconds + 10);
        engine.WritePending();
        var before = new FileInfo(DataFilePath(1)).Length;

        Assert.That(engine.Touch(B("k"), Clock.UnixSeconds + 500), Is.True);
        Assert.That(engine.Touch(B("missing"), Clock.UnixSeconds + 500), Is.False);
        engine.WritePending();
        var touchBytes = new FileInfo(DataFilePath(1)).Length - before;
        Clock.AdvanceSeconds(100);
        engine = CrashAndReopen(engine);

        Assert.That(engine.TryGet(B("k"), out var item), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(touchBytes, Is.EqualTo(DataRecord.SizeOf(1, 0)));
            Assert.That(item.ExpiresAt, Is.EqualTo(Clock.UnixSeconds - 100 + 500));
            Assert.That(item.Flags, Is.EqualTo(3u));
            Assert.That(item.Value.Length, Is.EqualTo(1000));
        });
    }

    [Test]
    public void A_touch_before_a_newer_put_does_not_change_the_newer_value()
    {
        var engine = Open();
        engine.Put(B("k"), B("one"), 0, Clock.UnixSeconds + 10);
        engine.Touch(B("k"), Clock.UnixSeconds + 1000);
        engine.Put(B("k"), B("two"), 0, Clock.UnixSeconds + 20);

        engine = CrashAndReopen(engine);

        Assert.That(engine.TryGet(B("k"), out var item), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(item.Value, Is.EqualTo(B("two")));
            Assert.That(item.ExpiresAt, Is.EqualTo(Clock.UnixSeconds + 20));
        });
    }

    [Test]
    public void A_flush_marker_kills_every_earlier_record()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine.Put(B("b"), B("2"), 0, 0);
        engine.Flush();
        engine.Put(B("c"), B("3"), 0, 0);

        AssertValues(engine, ("a", null), ("b", null), ("c", "3"));
        engine = CrashAndReopen(engine);

        AssertValues(engine, ("a", null), ("b", null), ("c", "3"));
    }

    [Test]
    public void A_delayed_flush_still_ahead_is_rearmed_and_kills_nothing_yet()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine.ScheduleFlush(Clock.UnixSeconds + 60);

        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(engine.PendingFlushAt, Is.EqualTo(Clock.UnixSeconds + 60));
            Assert.That(ValueOf(engine, "a"), Is.EqualTo("1"));
        });
    }

    [Test]
    public void A_delayed_flush_that_came_due_while_down_kills_everything_and_is_made_final()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine.ScheduleFlush(Clock.UnixSeconds + 60);
        engine.Put(B("b"), B("2"), 0, 0);
        engine.Abandon();
        Clock.AdvanceSeconds(61);

        engine = Open();
        engine.Put(B("c"), B("3"), 0, 0);
        Assert.That(engine.PendingFlushAt, Is.Null);
        AssertValues(engine, ("a", null), ("b", null), ("c", "3"));

        Clock.AdvanceSeconds(-61);
        engine = CrashAndReopen(engine);

        Assert.That(engine.PendingFlushAt, Is.Null, "the flush is on disk as done, whatever the clock says now");
        AssertValues(engine, ("a", null), ("b", null), ("c", "3"));
    }

    [Test]
    public void Reads_are_positional_on_handles_that_stay_open()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        File.Move(DataFilePath(1), DataFilePath(1) + ".moved-away");

        Assert.That(ValueOf(engine, "a"), Is.EqualTo("1"));
        File.Move(DataFilePath(1) + ".moved-away", DataFilePath(1));
    }

    [Test]
    public void A_damaged_last_record_of_an_older_file_is_skipped_not_cut()
    {
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0);
        engine.Put(B("b"), B("two"), 0, 0);
        engine = CrashAndReopen(engine);
        engine.Put(B("c"), B("three"), 0, 0);
        engine.Abandon();
        var bytes = File.ReadAllBytes(DataFilePath(1));
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(DataFilePath(1), bytes);
        File.Delete(DataFilePath(1) + ".hint");

        engine = Open();

        AssertValues(engine, ("a", "one"), ("b", null), ("c", "three"));
        Assert.Multiple(() =>
        {
            Assert.That(engine.LastRecovery.RecordsSkipped, Is.EqualTo(1));
            Assert.That(engine.LastRecovery.TornTails, Is.Zero);
            Assert.That(new FileInfo(DataFilePath(1)).Length, Is.EqualTo(bytes.Length));
        });
    }

    [Test]
    public void A_file_left_without_records_by_a_crash_is_removed()
    {
        var engine = Open();
        engine.Put(B("a"), B("one"), 0, 0);
        engine = CrashAndReopen(engine);
        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(DataFileIds(), Is.EqualTo(new[] { 1, 2 }), "data.2 was removed empty, and made again");
            Assert.That(ValueOf(engine, "a"), Is.EqualTo("one"));
        });
    }

    [Test]
    public void Live_values_are_handed_over_in_file_and_offset_order()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        Fill(engine, "k", 10);
        engine.Put(B("k0"), B("moved to the end"), 0, 0);
        engine.Put(B("k5"), B("moved after k0"), 0, 0);
        engine = Reopen(engine);

        var order = new List<string>();
        engine.ForEachLive(item => order.Add(System.Text.Encoding.UTF8.GetString(item.Key)));

        Assert.That(order, Is.EqualTo(new[] { "k1", "k2", "k3", "k4", "k6", "k7", "k8", "k9", "k0", "k5" }));
    }

    [Test]
    public void Keys_written_while_live_values_are_handed_over_come_with_their_current_value()
    {
        var engine = Open();
        Fill(engine, "k", 5);
        engine = Reopen(engine);

        var loaded = new Dictionary<string, string>();
        engine.ForEachLive(item =>
        {
            if (loaded.Count == 0)
            {
                engine.Put(B("k3"), B("newer"), 0, 0);
                engine.Delete(B("k4"));
            }
            loaded[System.Text.Encoding.UTF8.GetString(item.Key)] = System.Text.Encoding.UTF8.GetString(item.Value);
        });

        Assert.That(loaded["k3"], Is.EqualTo("newer"));
        Assert.That(loaded, Does.Not.ContainKey("k4"));
        Assert.That(loaded, Has.Count.EqualTo(4));
    }

    [Test]
    public void Stats_count_live_and_dead_bytes()
    {
        var engine = Open();
        engine.Put(B("a"), B("1234"), 0, 0);
        engine.Put(B("a"), B("12345678"), 0, 0);

        var stats = engine.GetStatistics();

        Assert.Multiple(() =>
        {
            Assert.That(stats.Keys, Is.EqualTo(1));
            Assert.That(stats.LiveBytes, Is.EqualTo(DataRecord.SizeOf(1, 8)));
            Assert.That(stats.DeadBytes, Is.EqualTo(DataRecord.SizeOf(1, 4)));
            Assert.That(stats.Files, Is.EqualTo(1));
        });
    }
}

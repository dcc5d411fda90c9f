using System.Text;
using Nemcache.Storage.Bitcask;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

public class MergeTests : BitcaskTestBase
{
    [Test]
    public void Merge_keeps_every_live_value_and_reclaims_dead_bytes()
    {
        Options = Options with { MaxFileBytes = 400 };
        var engine = Open();
        for (var round = 0; round < 10; round++)
        {
            for (var i = 0; i < 10; i++)
            {
                engine.Put(B("key" + i), B($"value-{i}-{round}"), (uint)i, 0);
            }
        }
        var before = engine.GetStatistics();

        engine.MergeAsync().Wait();

        var after = engine.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(after.MergesRun, Is.EqualTo(1));
            Assert.That(after.DeadBytes, Is.LessThan(before.DeadBytes / 4));
            Assert.That(after.Files, Is.LessThan(before.Files));
            Assert.That(after.LiveBytes, Is.EqualTo(before.LiveBytes));
            Assert.That(Directory.EnumerateFiles(DataDirectory, "merge*"), Is.Empty);
        });
        AssertAllRounds(engine, 9);
        engine = CrashAndReopen(engine);
        AssertAllRounds(engine, 9);
    }

    /// <summary>
    /// Regression (found by tests/corrupt.py): a merge skips a live record that fails its CRC; the key must not be left
    /// pointing into the file the merge retires, or reading it at the next restore crashed the server.
    /// </summary>
    [Test]
    public void A_key_whose_only_record_is_damaged_is_dropped_by_merge_and_reading_never_throws()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        engine.Put(B("victim"), B("vvvvvvvvvvvv"), 0, 0);
        for (var i = 0; i < 10; i++)
        {
            engine.Put(B($"k{i}"), B("value"), 0, 0);
        }
        engine.Dispose();
        var path = Path.Combine(DataDirectory, BitcaskFormat.DataFileName(1));
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.AsSpan().IndexOf("vvvvvvvvvvvv"u8)] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        engine = Open();
        engine.MergeAsync().Wait();

        var loaded = new List<string>();
        Assert.DoesNotThrow(() => engine.ForEachLive(item => loaded.Add(Encoding.ASCII.GetString(item.Key))));
        Assert.That(loaded, Does.Not.Contain("victim"));
        Assert.That(loaded, Has.Count.EqualTo(10));
    }

    [Test]
    public void A_deleted_key_never_comes_back_after_merge_and_restart()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        engine.Put(B("doomed"), B("value"), 0, 0);
        Fill(engine, "a", 5);
        engine.Delete(B("doomed"));
        Fill(engine, "b", 5);

        engine.MergeAsync().Wait();
        engine = CrashAndReopen(engine);
        engine.MergeAsync().Wait();
        engine = Reopen(engine);

        Assert.That(ValueOf(engine, "doomed"), Is.Null);
    }

    [Test]
    public void A_tombstone_is_kept_while_an_older_file_still_holds_the_key()
    {
        Options = Options with { MaxFileBytes = 300 };
        var engine = Open();
        engine.Put(B("doomed"), B("old"), 0, 0);
        Fill(engine, "live", 6);
        var olderFile = DataFileIds()[0];
        engine.Delete(B("doomed"));
        for (var i = 0; i < 12; i++)
        {
            engine.Put(B("churn"), B("churn-value-" + i), 0, 0);
        }

        engine.MergeFragmentedAsync().Wait();
        Assert.That(File.Exists(DataFilePath(olderFile)), Is.True, "the mostly live older file is left alone");
        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "doomed"), Is.Null);
            Assert.That(ValueOf(engine, "churn"), Is.EqualTo("churn-value-11"));
            Assert.That(ValueOf(engine, "live0"), Is.EqualTo("live-value-0"));
        });
    }

    [Test]
    public void Merge_with_concurrent_writers_loses_nothing()
    {
        Options = Options with { MaxFileBytes = 2000 };
        var engine = Open();
        var models = new Dictionary<string, (string Value, long ExpiresAt)>[4];
        var writers = new Task[models.Length];
        for (var w = 0; w < writers.Length; w++)
        {
            var model = models[w] = [];
            var writer = w;
            writers[w] = Task.Run(() => Write(engine, writer, model));
        }

        // A merge asked for before the writers have filled a file has no input and does not count; on a busy machine
        // that can be most of them, so the loop counts the merges that ran, not the ones asked for.
        while (!Task.WhenAll(writers).IsCompleted || engine.GetStatistics().MergesRun < 3)
        {
            engine.MergeAsync().Wait();
        }
        Task.WaitAll(writers);

        Assert.That(engine.GetStatistics().MergesRun, Is.GreaterThanOrEqualTo(3));
        AssertMatches(engine, models);
        engine = CrashAndReopen(engine);
        AssertMatches(engine, models);
        engine.MergeAsync().Wait();
        engine = Reopen(engine);
        AssertMatches(engine, models);
    }

    [Test]
    public void A_flush_lets_merge_drop_whole_files_unread()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        Fill(engine, "old", 20);
        var filesBefore = DataFileIds();

        engine.Flush();
        engine.Put(B("new"), B("value"), 0, 0);
        engine.MergeFragmentedAsync().Wait();

        Assert.Multiple(() =>
        {
            foreach (var id in filesBefore[..^1])
            {
                Assert.That(File.Exists(DataFilePath(id)), Is.False, $"data.{id}");
            }
        });
        engine = CrashAndReopen(engine);
        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "old0"), Is.Null);
            Assert.That(ValueOf(engine, "old19"), Is.Null);
            Assert.That(ValueOf(engine, "new"), Is.EqualTo("value"));
        });
    }

    [Test]
    public void A_pending_delayed_flush_survives_a_merge()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        engine.ScheduleFlush(Clock.UnixSeconds + 100);
        Fill(engine, "a", 10);

        engine.MergeAsync().Wait();
        engine = CrashAndReopen(engine);

        Assert.Multiple(() =>
        {
            Assert.That(engine.PendingFlushAt, Is.EqualTo(Clock.UnixSeconds + 100));
            Assert.That(ValueOf(engine, "a0"), Is.EqualTo("a-value-0"));
        });
    }

    [Test]
    public void A_touch_is_folded_into_its_value_by_merge()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        engine.Put(B("touched"), B("value"), 7, Clock.UnixSeconds + 10);
        Fill(engine, "a", 5);
        engine.Touch(B("touched"), Clock.UnixSeconds + 1000);
        Fill(engine, "b", 5);

        engine.MergeAsync().Wait();
        Clock.AdvanceSeconds(500);
        engine = CrashAndReopen(engine);

        Assert.That(engine.TryGet(B("touched"), out var item), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(item.Value, Is.EqualTo(B("value")));
            Assert.That(item.Flags, Is.EqualTo(7u));
            Assert.That(item.ExpiresAt, Is.EqualTo(Clock.UnixSeconds + 500));
        });
    }

    [Test]
    public void Folding_a_touch_whose_value_lies_in_a_file_left_alone_moves_the_live_bytes()
    {
        Options = Options with { MaxFileBytes = 300 };
        var engine = Open();
        engine.Put(B("touched"), B("value"), 7, Clock.UnixSeconds + 10);
        Fill(engine, "live", 6);
        var valueFile = DataFileIds()[0];
        engine.Touch(B("touched"), Clock.UnixSeconds + 1000);
        for (var i = 0; i < 12; i++)
        {
            engine.Put(B("churn"), B("churn-value-" + i), 0, 0);
        }
        var live = DataRecord.SizeOf("touched".Length, "value".Length) + 6 * DataRecord.SizeOf("live0".Length, "live-value-0".Length) +
                   DataRecord.SizeOf("churn".Length, "churn-value-11".Length);

        engine.MergeFragmentedAsync().Wait();

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(DataFilePath(valueFile)), Is.True, "the file holding the value is left alone");
            Assert.That(engine.GetStatistics().MergesRun, Is.EqualTo(1));
            Assert.That(engine.GetStatistics().LiveBytes, Is.EqualTo(live));
        });
        engine = CrashAndReopen(engine);
        Assert.That(engine.TryGet(B("touched"), out var item), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(engine.GetStatistics().LiveBytes, Is.EqualTo(live));
            Assert.That(item.ExpiresAt, Is.EqualTo(Clock.UnixSeconds + 1000));
            Assert.That(item.Flags, Is.EqualTo(7u));
        });
    }

    [Test]
    public void Merge_starts_by_itself_past_both_thresholds()
    {
        Options = Options with { MaxFileBytes = 300, MergeMinDeadBytes = 500, MergeFragmentation = 0.5 };
        var engine = Open();
        for (var i = 0; i < 100; i++)
        {
            engine.Put(B("same"), B("value-" + i), 0, 0);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.GetStatistics().MergesRun == 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        Assert.Multiple(() =>
        {
            Assert.That(engine.GetStatistics().MergesRun, Is.GreaterThan(0));
            Assert.That(ValueOf(engine, "same"), Is.EqualTo("value-99"));
        });
    }

    [Test]
    [Platform(Include = "Linux", Reason = "Counts descriptors in /proc/self/fd.")]
    public void The_number_of_open_data_file_handles_stays_bounded()
    {
        Options = Options with { MaxFileBytes = 100, MaxOpenFiles = 8 };
        var engine = Open();
        Fill(engine, "k", 200);

        for (var i = 0; i < 200; i += 7)
        {
            Assert.That(ValueOf(engine, "k" + i), Is.EqualTo("k-value-" + i));
        }
        engine.MergeAsync().Wait();
        Fill(engine, "m", 50);

        Assert.Multiple(() =>
        {
            Assert.That(DataFileIds().Length, Is.GreaterThan(50));
            Assert.That(OpenDescriptorsInto(DataDirectory), Is.LessThanOrEqualTo(8 + 2),
                "the budget's data files, LOCK, and a hint the background queue may be writing");
            Assert.That(ValueOf(engine, "k0"), Is.EqualTo("k-value-0"));
        });
    }

    private static int OpenDescriptorsInto(string directory)
    {
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(directory, StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // The descriptor was closed while listing.
            }
        }
        return count;
    }

    public static IEnumerable<string> Phases => Enum.GetNames<MergePhase>();

    [TestCaseSource(nameof(Phases))]
    public void A_merge_killed_at_any_phase_recovers_to_the_same_state(string phaseName)
    {
        var phase = Enum.Parse<MergePhase>(phaseName);
        Options = Options with { MaxFileBytes = 256 };
        var engine = Open();
        var start = Clock.UnixSeconds;
        engine.Put(B("kept"), B("v1"), 1, 0);
        engine.Put(B("deleted"), B("gone"), 0, 0);
        engine.Put(B("touched"), B("t"), 2, start + 100);
        engine.Put(B("expiring"), B("e"), 0, start + 5);
        Fill(engine, "a", 4);
        engine.Put(B("kept"), B("v2"), 1, 0);
        engine.Delete(B("deleted"));
        engine.Touch(B("touched"), start + 1000);
        engine.ScheduleFlush(start + 5000);
        Fill(engine, "b", 4);
        Clock.AdvanceSeconds(10);
        StopMergesAt(engine, phase, () => new InvalidOperationException("killed at " + phase));

        var killed = Assert.Throws<AggregateException>(() => engine.MergeAsync().Wait());
        Assert.That(killed!.InnerException!.Message, Is.EqualTo("killed at " + phase));

        engine = CrashAndReopen(engine);
        AssertCrashScenario(engine, start);
        Assert.That(Directory.EnumerateFiles(DataDirectory, "merge*"), Is.Empty);
        Assert.That(File.Exists(Path.Combine(DataDirectory, "MERGE")), Is.False);

        engine.MergeAsync().Wait();
        engine = CrashAndReopen(engine);
        AssertCrashScenario(engine, start);
    }

    [Test]
    public void A_merge_that_fails_after_its_commit_stops_merging_until_a_restart_finishes_it()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        engine.Put(B("doomed"), B("old"), 0, 0);
        Fill(engine, "a", 5);
        engine.Delete(B("doomed"));
        Fill(engine, "b", 5);
        StopMergesAt(engine, MergePhase.KeyDirUpdated, () => new IOException("disk trouble while deleting"));
        Assert.Throws<AggregateException>(() => engine.MergeAsync().Wait());
        engine.MergePhaseReached = null;

        var refused = Assert.Throws<AggregateException>(() => engine.MergeAsync().Wait());
        engine.Put(B("after"), B("still written"), 0, 0);

        Assert.Multiple(() =>
        {
            Assert.That(refused!.InnerException, Is.TypeOf<Nemcache.Storage.Persistence.PersistenceException>());
            Assert.That(File.Exists(Path.Combine(DataDirectory, "MERGE")), Is.True, "the commit waits for the restart");
        });
        AssertValues(engine, ("doomed", null), ("a0", "a-value-0"), ("after", "still written"));
        engine = Reopen(engine);

        Assert.That(File.Exists(Path.Combine(DataDirectory, "MERGE")), Is.False);
        AssertValues(engine, ("doomed", null), ("a0", "a-value-0"), ("b4", "b-value-4"), ("after", "still written"));
        Assert.DoesNotThrow(() => engine.MergeAsync().Wait());
    }

    private void AssertCrashScenario(Engine engine, long start)
    {
        Assert.That(engine.TryGet(B("touched"), out var touched), Is.True, "touched");
        Assert.Multiple(() =>
        {
            Assert.That(ValueOf(engine, "kept"), Is.EqualTo("v2"));
            Assert.That(ValueOf(engine, "deleted"), Is.Null);
            Assert.That(ValueOf(engine, "expiring"), Is.Null);
            Assert.That(touched.ExpiresAt, Is.EqualTo(start + 1000));
            Assert.That(touched.Flags, Is.EqualTo(2u));
            Assert.That(engine.PendingFlushAt, Is.EqualTo(start + 5000));
            Assert.That(engine.LastRecovery.Keys, Is.EqualTo(10));
        });
        AssertFilled(engine, "a", 4);
        AssertFilled(engine, "b", 4);
    }

    private static void AssertAllRounds(Engine engine, int round)
    {
        Assert.Multiple(() =>
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.That(engine.TryGet(Encoding.UTF8.GetBytes("key" + i), out var item), Is.True, "key" + i);
                Assert.That(Encoding.UTF8.GetString(item.Value), Is.EqualTo($"value-{i}-{round}"));
                Assert.That(item.Flags, Is.EqualTo((uint)i));
            }
        });
    }

    /// <summary>One writer's random puts, deletes and touches over its own keys, recorded in its model.</summary>
    private void Write(Engine engine, int writer, Dictionary<string, (string Value, long ExpiresAt)> model)
    {
        var random = new Random(writer);
        for (var n = 0; n < 5_000; n++)
        {
            var key = $"w{writer}-k{random.Next(30)}";
            switch (random.Next(10))
            {
                case < 6:
                    var value = $"{key}-{n}-" + new string('x', random.Next(40));
                    var expiresAt = random.Next(3) == 0 ? Clock.UnixSeconds + 1000 + n : 0;
                    engine.Put(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value), 0, expiresAt);
                    model[key] = (value, expiresAt);
                    break;
                case < 8:
                    engine.Delete(Encoding.UTF8.GetBytes(key));
                    model.Remove(key);
                    break;
                default:
                    if (engine.Touch(Encoding.UTF8.GetBytes(key), Clock.UnixSeconds + 5000 + n))
                    {
                        model[key] = (model[key].Value, Clock.UnixSeconds + 5000 + n);
                    }
                    break;
            }
        }
    }

    [Test]
    public void A_hint_the_queue_reaches_after_a_merge_removed_its_file_leaves_nothing_behind()
    {
        // Rotation queues a file's hint; a merge queued before it may already have merged that file away. The hint
        // write then fails, and must not leave a hint without a data file, which the next start would report as a
        // lost data file.
        Options = Options with { MaxFileBytes = 100 };
        var engine = Open();
        Fill(engine, "a", 40);
        var merged = engine.MergeAsync();
        Fill(engine, "b", 40);
        merged.Wait();
        engine.MergeAsync().Wait();

        var orphans = Directory.GetFiles(DataDirectory, "data.*.hint")
            .Where(hint => !File.Exists(hint[..^".hint".Length]))
            .Select(Path.GetFileName);
        Assert.That(orphans, Is.Empty);
    }

    private static void AssertMatches(Engine engine, Dictionary<string, (string Value, long ExpiresAt)>[] models)
    {
        Assert.Multiple(() =>
        {
            var expected = 0;
            for (var w = 0; w < models.Length; w++)
            {
                for (var k = 0; k < 30; k++)
                {
                    var key = $"w{w}-k{k}";
                    var found = engine.TryGet(Encoding.UTF8.GetBytes(key), out var item);
                    if (models[w].TryGetValue(key, out var want))
                    {
                        expected++;
                        Assert.That(found, Is.True, key);
                        Assert.That(Encoding.UTF8.GetString(item.Value), Is.EqualTo(want.Value), key);
                        Assert.That(item.ExpiresAt, Is.EqualTo(want.ExpiresAt), key);
                    }
                    else
                    {
                        Assert.That(found, Is.False, key);
                    }
                }
            }
            Assert.That(engine.GetStatistics().Keys, Is.EqualTo(expected));
        });
    }
}

using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>Rewriting the log from the cache, and what a crash at each point of it leaves.</summary>
public sealed class StreamCompactionTests : StreamArchiverFixture
{
    private readonly List<string> _crashCopies = [];

    [TearDown]
    public void RemoveCrashCopies()
    {
        foreach (var copy in _crashCopies)
        {
            if (Directory.Exists(copy))
            {
                Directory.Delete(copy, recursive: true);
            }
        }
        _crashCopies.Clear();
    }

    private long LogLength => new FileInfo(LogPath).Length;

    private async Task OverwriteAsync(int keys, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            for (var key = 0; key < keys; key++)
            {
                await Server.SetAsync($"key{key}", $"round {round} of key {key}", flags: (uint)round, exptime: 1000 + round);
            }
        }
    }

    [Test]
    public async Task A_second_server_refused_at_the_lock_leaves_the_running_servers_compaction_file_alone()
    {
        var compacting = Path.Combine(Server.DataDirectory, StreamLogFormat.CompactionFileName);
        await File.WriteAllTextAsync(compacting, "a compaction in progress");
        var second = new StreamArchiver(Server.Options, new StreamArchiverOptions(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<StreamArchiver>.Instance);

        Assert.Throws<PersistenceException>(() => second.Restore(new Nemcache.Storage.Cache.MemCache(new())));

        Assert.That(await File.ReadAllTextAsync(compacting), Is.EqualTo("a compaction in progress"));
    }

    [Test]
    public async Task Compaction_shrinks_the_log_to_the_live_items()
    {
        await OverwriteAsync(keys: 10, rounds: 50);
        Server.Cache.Delete(PersistedCache.Key("key3"));
        var before = LogLength;
        var expected = PersistedCache.VisibleState(Server.Cache);

        await Archivers.Last.CompactAsync();

        Assert.That(LogLength, Is.LessThan(before / 20));
        Assert.That(Archivers.Last.GetStats(), Does.Contain(new KeyValuePair<string, string>("stream_compactions", "1")));
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.EqualTo(expected));
    }

    [Test]
    public async Task Compaction_keeps_a_pending_flush()
    {
        await Server.SetAsync("a", "1");
        Server.Cache.FlushAll(delay: 100);
        var deadline = Server.Cache.PendingFlushAt;

        await Archivers.Last.CompactAsync();
        await Server.RestartAsync(downSeconds: 10);

        Assert.That(Server.Cache.PendingFlushAt, Is.EqualTo(deadline));
        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "a" }));
        await Server.RestartAsync(downSeconds: 100);
        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.Empty);
    }

    [Test]
    public async Task A_crash_in_each_phase_of_compaction_leaves_a_log_that_replays_correctly()
    {
        await OverwriteAsync(keys: 5, rounds: 20);
        Server.Cache.Delete(PersistedCache.Key("key1"));
        Server.Cache.Touch(PersistedCache.Key("key2"), 5000);
        await Server.Plugin.CommitAsync();
        var beforeCompaction = PersistedCache.VisibleState(Server.Cache);
        var crashes = new Dictionary<string, string>();
        Archivers.Last.CompactionPhaseReached = phase =>
        {
            if (phase == CompactionPhase.SnapshotWritten)
            {
                // Records that arrive while the snapshot is written must reach the new log through the tail copy.
                Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("during"), 8, 0, "compaction"u8.ToArray());
                Server.Cache.Delete(PersistedCache.Key("key4"));
                // As a connection does before it replies: the records reach the old log, which the tail copy reads.
                Server.Plugin.CommitAsync().AsTask().GetAwaiter().GetResult();
            }
            crashes[phase.ToString()] = CopyDataDirectory(phase.ToString(), tornCompactionFile: false);
            if (phase is CompactionPhase.Started or CompactionPhase.SnapshotWritten)
            {
                crashes[phase + " (torn)"] = CopyDataDirectory(phase + "-torn", tornCompactionFile: true);
            }
        };

        await Archivers.Last.CompactAsync();
        var afterCompaction = PersistedCache.VisibleState(Server.Cache);
        Assert.That(afterCompaction, Does.ContainKey("during").And.Not.ContainKey("key4"));

        Assert.That(crashes.Keys, Is.EquivalentTo(new[] { "Started", "Started (torn)", "SnapshotWritten", "SnapshotWritten (torn)", "Synced", "Renamed" }));
        foreach (var (phase, directory) in crashes)
        {
            await using var recovered = Archivers.NewCache(dataDirectory: directory).Start();
            var expected = phase.StartsWith("Started") ? beforeCompaction : afterCompaction;
            Assert.That(PersistedCache.VisibleState(recovered.Cache), Is.EqualTo(expected), phase);
            Assert.That(File.Exists(Path.Combine(directory, StreamLogFormat.CompactionFileName)), Is.False, phase);
        }
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.EqualTo(afterCompaction));
    }

    [TestCase(nameof(CompactionPhase.Synced))]
    [TestCase(nameof(CompactionPhase.Renamed))]
    public async Task A_write_during_the_swaps_fsyncs_does_not_wait_for_them(string blockedPhase)
    {
        await OverwriteAsync(keys: 5, rounds: 20);
        var phase = Enum.Parse<CompactionPhase>(blockedPhase);
        var storedMeanwhile = false;
        Archivers.Last.CompactionPhaseReached = reached =>
        {
            if (reached == phase)
            {
                // The hook stands for an fsync that takes long: the write is issued while it runs, on another thread.
                var store = Task.Run(() => Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("meanwhile"), 0, 0, "1"u8.ToArray()));
                storedMeanwhile = store.Wait(TimeSpan.FromSeconds(5));
            }
        };

        await Archivers.Last.CompactAsync();

        Assert.That(storedMeanwhile, Is.True, "the write waited for the swap's fsync");
        var expected = PersistedCache.VisibleState(Server.Cache);
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.EqualTo(expected));
        Assert.That(expected, Does.ContainKey("meanwhile"));
    }

    [Test]
    public async Task Under_always_a_write_to_the_new_log_is_acknowledged_only_once_its_name_is_durable()
    {
        await ReplaceServerAsync(SyncMode.Always);
        await OverwriteAsync(keys: 5, rounds: 20);
        Task? commit = null;
        var committedBeforeDurable = true;
        Archivers.Last.CompactionPhaseReached = reached =>
        {
            if (reached == CompactionPhase.Renamed)
            {
                // The rename is done but neither the new file's last records nor the directory are fsynced: a power
                // loss now may bring back the old log, which lacks this write.
                var stored = Task.Run(() => Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("after-rename"), 0, 0, "1"u8.ToArray()));
                Assert.That(stored.Wait(TimeSpan.FromSeconds(5)), Is.True);
                commit = Task.Run(() => Server.Plugin.CommitAsync().AsTask());
                committedBeforeDurable = commit.Wait(TimeSpan.FromMilliseconds(300));
            }
        };

        await Archivers.Last.CompactAsync();

        Assert.That(commit, Is.Not.Null);
        Assert.That(committedBeforeDurable, Is.False, "the commit completed before the rename was durable");
        await commit!;
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache), Does.ContainKey("after-rename"));
    }

    [Test]
    public async Task Writers_go_on_during_compactions_and_every_write_survives()
    {
        var writing = true;
        var writers = new Task[3];
        for (var w = 0; w < writers.Length; w++)
        {
            var writer = w;
            writers[w] = Task.Run(async () =>
            {
                for (var i = 0; Volatile.Read(ref writing) || i < 500; i++)
                {
                    var key = PersistedCache.Key($"w{writer}-{i % 50}");
                    if (i % 11 == 0)
                    {
                        Server.Cache.Delete(key);
                    }
                    else
                    {
                        Server.Cache.Store(Storage.Cache.StoreMode.Set, key, (uint)i, 0, new byte[300 + i % 700]);
                    }
                    await Server.Plugin.CommitAsync();
                }
            });
        }
        for (var compaction = 0; compaction < 5; compaction++)
        {
            await Archivers.Last.CompactAsync();
        }
        Volatile.Write(ref writing, false);
        await Task.WhenAll(writers);
        var expected = PersistedCache.VisibleState(Server.Cache);

        await Server.RestartAsync();

        Assert.That(Archivers.Last.GetStats(), Does.Contain(new KeyValuePair<string, string>("stream_last_restore_items", expected.Count.ToString())));
        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.EqualTo(expected));
    }

    [Test]
    public async Task Compaction_starts_by_itself_once_the_log_is_large_and_mostly_dead()
    {
        await StartWithSmallThresholdAsync();

        await OverwriteAsync(keys: 2, rounds: 100);

        Assert.That(() => Archivers.Last.GetStats().ToList(),
            Does.Contain(new KeyValuePair<string, string>("stream_compactions", "1")).After(5000, 20));
        Assert.That(LogLength, Is.LessThan(4096));
    }

    [Test]
    public async Task Compaction_waits_while_most_of_the_log_is_live()
    {
        await StartWithSmallThresholdAsync();

        await OverwriteAsync(keys: 200, rounds: 1);
        await Task.Delay(200);

        Assert.That(LogLength, Is.GreaterThan(8192));
        Assert.That(Archivers.Last.GetStats(), Does.Contain(new KeyValuePair<string, string>("stream_compactions", "0")));
    }

    /// <summary>Compaction checked every 20 ms against a 4 KiB threshold.</summary>
    private Task StartWithSmallThresholdAsync() => ReplaceServerAsync(options: new StreamArchiverOptions
    {
        CompactBytes = 4096,
        CompactionCheckInterval = TimeSpan.FromMilliseconds(20),
    });

    /// <summary>What the disk holds at this instant, as a crash would leave it; optionally with the compaction file
    /// cut in half, as a crash in the middle of a write leaves it.</summary>
    private string CopyDataDirectory(string name, bool tornCompactionFile)
    {
        var copy = Server.DataDirectory + "-crash-" + name;
        Directory.CreateDirectory(copy);
        _crashCopies.Add(copy);
        foreach (var file in Directory.GetFiles(Server.DataDirectory))
        {
            // The running archiver holds LOCK exclusively; a crashed process holds nothing, so the copy goes without it.
            if (Path.GetFileName(file) == DataDirectoryLock.FileName)
            {
                continue;
            }
            var target = Path.Combine(copy, Path.GetFileName(file));
            File.Copy(file, target);
            if (tornCompactionFile && Path.GetFileName(file) == StreamLogFormat.CompactionFileName)
            {
                using var torn = File.Open(target, FileMode.Open);
                torn.SetLength(torn.Length / 2);
            }
        }
        return copy;
    }
}

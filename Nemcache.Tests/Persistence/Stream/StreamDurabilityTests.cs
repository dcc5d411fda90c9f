using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>When records reach the OS and the disk, and what a failed write does.</summary>
public sealed class StreamDurabilityTests : StreamArchiverFixture
{
    private string Stat(string name) => Archivers.Last.GetStats().Single(s => s.Key == name).Value;

    [TestCase(SyncMode.Always)]
    [TestCase(SyncMode.Interval)]
    [TestCase(SyncMode.None)]
    public async Task A_committed_record_has_reached_the_OS(SyncMode sync)
    {
        await ReplaceServerAsync(sync);

        await Server.SetAsync("key", "value");

        // Another reader of the file sees the record while the archiver still runs: it is in the OS, not in a buffer
        // of this process, so a process crash cannot lose it.
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.That(StreamArchivers.Records(log).Single().Store.Key.ToStringUtf8(), Is.EqualTo("key"));
    }

    [TestCase(SyncMode.Always)]
    [TestCase(SyncMode.Interval)]
    [TestCase(SyncMode.None)]
    public async Task A_batch_reaches_the_file_together_at_its_commit(SyncMode sync)
    {
        await ReplaceServerAsync(sync);
        await Server.SetAsync("first", "0");
        var committed = new FileInfo(LogPath).Length;

        // A connection's batch: several changes, then one commit before the replies.
        for (var i = 0; i < 10; i++)
        {
            Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key($"key{i}"), 0, 0, "value"u8.ToArray());
        }
        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(committed), "the batch's records wait for its commit");
        await Server.Plugin.CommitAsync();

        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.That(StreamArchivers.Records(log).Select(r => r.Store.Key.ToStringUtf8()),
            Is.EqualTo(new[] { "first" }.Concat(Enumerable.Range(0, 10).Select(i => $"key{i}"))), "in the order the cache made them");
    }

    [Test]
    public async Task A_commit_writes_the_records_of_every_connection_before_it()
    {
        // Connection A's change, then connection B's change and commit: B's commit writes A's record too, in order,
        // so A's commit finds it written.
        Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("a"), 0, 0, "1"u8.ToArray());
        Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("b"), 0, 0, "2"u8.ToArray());
        await Server.Plugin.CommitAsync();
        var length = new FileInfo(LogPath).Length;
        await Server.Plugin.CommitAsync();

        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(length));
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.That(StreamArchivers.Records(log).Select(r => r.Store.Key.ToStringUtf8()), Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public async Task A_failed_write_fails_the_commit_of_every_batch_it_held()
    {
        await Server.SetAsync("before", "1");
        Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("a"), 0, 0, "1"u8.ToArray());
        Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("b"), 0, 0, "2"u8.ToArray());
        Archivers.Last.SimulateDiskFull(bytesLeft: 5);

        // The first commit meets the full disk for both records; the second finds nothing pending, and must not
        // take that for success.
        Assert.ThrowsAsync<PersistenceException>(async () => await Server.Plugin.CommitAsync());
        Assert.ThrowsAsync<PersistenceException>(async () => await Server.Plugin.CommitAsync());
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.That(StreamArchivers.Records(log).Select(r => r.Store.Key.ToStringUtf8()), Is.EqualTo(new[] { "before" }),
            "the file is cut back to its last whole record");
    }

    [Test]
    public async Task Records_past_the_buffer_bound_are_written_without_waiting_for_a_commit()
    {
        var value = new byte[64 * 1024];
        var stores = PendingWrites.LimitBytes / value.Length + 1;
        for (var i = 0; i < stores; i++)
        {
            Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key($"key{i}"), 0, 0, value);
        }

        var written = StreamArchivers.Records(await File.ReadAllBytesAsync(LogPath)).Count;
        Assert.That((stores - written) * value.Length, Is.GreaterThan(0).And.LessThan(PendingWrites.LimitBytes),
            "the buffer never holds more than its bound");
    }

    [Test]
    public async Task Shutdown_writes_the_records_no_commit_wrote()
    {
        Server.Cache.Store(Storage.Cache.StoreMode.Set, PersistedCache.Key("uncommitted"), 0, 0, "1"u8.ToArray());

        await Server.RestartAsync();

        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "uncommitted" }));
    }

    [Test]
    public async Task Under_always_a_commit_completes_after_an_fsync()
    {
        await ReplaceServerAsync(SyncMode.Always);

        await Server.SetAsync("key", "value");

        Assert.That(Stat("stream_fsyncs"), Is.EqualTo("1"));
    }

    [Test]
    public async Task Under_interval_records_are_fsynced_within_the_interval()
    {
        await ReplaceServerAsync(SyncMode.Interval, syncInterval: TimeSpan.FromMilliseconds(50));

        await Server.SetAsync("key", "value");

        Assert.That(() => Stat("stream_fsyncs"), Is.EqualTo("1").After(3000, 20));
    }

    [Test]
    public async Task Under_none_there_is_no_fsync_before_shutdown()
    {
        await ReplaceServerAsync(SyncMode.None);

        await Server.SetAsync("key", "value");
        await Task.Delay(100);

        Assert.That(Stat("stream_fsyncs"), Is.EqualTo("0"));
    }

    [Test]
    public async Task A_failed_write_fails_the_commit_keeps_the_framing_and_is_repaired_by_compaction()
    {
        await Server.SetAsync("before", "1");
        Archivers.Last.SimulateDiskFull(bytesLeft: 5);

        Assert.ThrowsAsync<PersistenceException>(() => Server.SetAsync("lost", "2"));
        Assert.That(Stat("stream_write_failures"), Is.EqualTo("1"));
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.That(StreamArchivers.Records(log).Select(r => r.Store.Key.ToStringUtf8()), Is.EqualTo(new[] { "before" }));

        await Archivers.Last.CompactAsync();
        await Server.SetAsync("after", "3");
        await Server.RestartAsync();

        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "before", "lost", "after" }));
    }

    [Test]
    public async Task A_failed_fsync_is_a_failure_until_a_compaction_repairs_the_log()
    {
        await ReplaceServerAsync(SyncMode.Always);
        await Server.SetAsync("before", "1");
        Archivers.Last.SimulateFailingFsync();

        Assert.ThrowsAsync<PersistenceException>(() => Server.SetAsync("unsynced", "2"));
        Assert.That(Server.Plugin.Failure, Does.Contain("Input/output error"), "mutations are refused");
        // The next fsync would succeed, but it cannot vouch for the pages the failed one lost.
        Assert.ThrowsAsync<PersistenceException>(() => Server.SetAsync("later", "3"));
        Assert.That(Server.Plugin.Failure, Is.Not.Null);
        Assert.That(Stat("stream_write_failures"), Is.EqualTo("1"));

        await Archivers.Last.CompactAsync();
        Assert.That(Server.Plugin.Failure, Is.Null);
        await Server.SetAsync("after", "4");
        await Server.RestartAsync();

        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "before", "unsynced", "later", "after" }));
    }

    [Test]
    public async Task A_failed_interval_fsync_sets_the_failure_too()
    {
        await ReplaceServerAsync(SyncMode.Interval, syncInterval: TimeSpan.FromMilliseconds(20),
            options: new StreamArchiverOptions { CompactionCheckInterval = TimeSpan.FromHours(1) });
        await Server.SetAsync("a", "1");
        Archivers.Last.SimulateFailingFsync();
        await Server.SetAsync("b", "2");

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Server.Plugin.Failure is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.That(Server.Plugin.Failure, Does.Contain("Input/output error"));
        Assert.ThrowsAsync<PersistenceException>(() => Server.Plugin.CommitAsync().AsTask());
    }

    [Test]
    public async Task Stats_name_the_log_and_its_work()
    {
        await Server.SetAsync("a", "1");
        await Server.RestartAsync();
        await Server.SetAsync("b", "2");

        var stats = Archivers.Last.GetStats().ToDictionary(s => s.Key, s => s.Value);

        Assert.That(stats["stream_records_written"], Is.EqualTo("1"));
        Assert.That(stats["stream_last_restore_items"], Is.EqualTo("1"));
        Assert.That(stats["stream_last_restore_bytes"], Is.EqualTo("2"));
        Assert.That(long.Parse(stats["stream_log_bytes"]), Is.EqualTo(new FileInfo(LogPath).Length));
        Assert.That(stats, Does.ContainKey("stream_last_restore_ms").And.ContainKey("stream_compactions"));
    }
}

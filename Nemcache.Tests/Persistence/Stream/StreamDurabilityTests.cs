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

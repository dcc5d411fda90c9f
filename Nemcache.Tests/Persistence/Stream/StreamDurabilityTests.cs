using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>When records reach the OS and the disk, and what a failed write does.</summary>
public sealed class StreamDurabilityTests
{
    private StreamArchivers _archivers = null!;
    private PersistedCache _cache = null!;

    [SetUp]
    public void NewArchivers() => _archivers = new StreamArchivers();

    [TearDown]
    public async Task RemoveCache() => await _cache.DisposeAsync();

    private string Stat(string name) => _archivers.Last.GetStats().Single(s => s.Key == name).Value;

    [TestCase(SyncMode.Always)]
    [TestCase(SyncMode.Interval)]
    [TestCase(SyncMode.None)]
    public async Task A_committed_record_has_reached_the_OS(SyncMode sync)
    {
        _cache = _archivers.NewCache(sync).Start();

        await _cache.SetAsync("key", "value");

        // Another reader of the file sees the record while the archiver still runs: it is in the OS, not in a buffer
        // of this process, so a process crash cannot lose it.
        var log = await File.ReadAllBytesAsync(StreamArchivers.LogPath(_cache));
        Assert.That(StreamArchivers.Records(log).Single().Store.Key.ToStringUtf8(), Is.EqualTo("key"));
    }

    [Test]
    public async Task Under_always_a_commit_completes_after_an_fsync()
    {
        _cache = _archivers.NewCache(SyncMode.Always).Start();

        await _cache.SetAsync("key", "value");

        Assert.That(Stat("stream_fsyncs"), Is.EqualTo("1"));
    }

    [Test]
    public async Task Under_interval_records_are_fsynced_within_the_interval()
    {
        _cache = new PersistedCache(_archivers.Factory, SyncMode.Interval, syncInterval: TimeSpan.FromMilliseconds(50)).Start();

        await _cache.SetAsync("key", "value");

        Assert.That(() => Stat("stream_fsyncs"), Is.EqualTo("1").After(3000, 20));
    }

    [Test]
    public async Task Under_none_there_is_no_fsync_before_shutdown()
    {
        _cache = _archivers.NewCache(SyncMode.None).Start();

        await _cache.SetAsync("key", "value");
        await Task.Delay(100);

        Assert.That(Stat("stream_fsyncs"), Is.EqualTo("0"));
    }

    [Test]
    public async Task A_failed_write_fails_the_commit_keeps_the_framing_and_is_repaired_by_compaction()
    {
        _cache = _archivers.NewCache().Start();
        await _cache.SetAsync("before", "1");
        _archivers.Last.SimulateDiskFull(bytesLeft: 5);

        Assert.ThrowsAsync<PersistenceException>(() => _cache.SetAsync("lost", "2"));
        Assert.That(Stat("stream_write_failures"), Is.EqualTo("1"));
        var log = await File.ReadAllBytesAsync(StreamArchivers.LogPath(_cache));
        Assert.That(StreamArchivers.Records(log).Select(r => r.Store.Key.ToStringUtf8()), Is.EqualTo(new[] { "before" }));

        await _archivers.Last.CompactAsync();
        await _cache.SetAsync("after", "3");
        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache).Keys, Is.EquivalentTo(new[] { "before", "lost", "after" }));
    }

    [Test]
    public async Task Stats_name_the_log_and_its_work()
    {
        _cache = _archivers.NewCache().Start();
        await _cache.SetAsync("a", "1");
        await _cache.RestartAsync();
        await _cache.SetAsync("b", "2");

        var stats = _archivers.Last.GetStats().ToDictionary(s => s.Key, s => s.Value);

        Assert.That(stats["stream_records_written"], Is.EqualTo("1"));
        Assert.That(stats["stream_last_restore_items"], Is.EqualTo("1"));
        Assert.That(stats["stream_last_restore_bytes"], Is.EqualTo("2"));
        Assert.That(long.Parse(stats["stream_log_bytes"]), Is.EqualTo(new FileInfo(StreamArchivers.LogPath(_cache)).Length));
        Assert.That(stats, Does.ContainKey("stream_last_restore_ms").And.ContainKey("stream_compactions"));
    }
}

using System.Buffers.Binary;
using System.Runtime.Versioning;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>cachelog.bin byte by byte, as docs/persistence.md describes it.</summary>
public sealed class StreamLogFormatTests
{
    private StreamArchivers _archivers = null!;
    private PersistedCache _cache = null!;

    [SetUp]
    public void StartCache()
    {
        _archivers = new StreamArchivers();
        _cache = _archivers.NewCache().Start();
    }

    [TearDown]
    public async Task RemoveCache() => await _cache.DisposeAsync();

    [Test]
    public void Crc32C_is_the_standard_castagnoli_checksum()
    {
        Assert.That(StreamLogFormat.Crc32C("123456789"u8), Is.EqualTo(0xE3069283u));
        Assert.That(StreamLogFormat.Crc32C(new byte[32]), Is.EqualTo(0x8A9136AAu));
    }

    [Test]
    public async Task A_new_log_is_the_magic_and_the_version()
    {
        await _cache.StopAsync();

        Assert.That(File.ReadAllBytes(StreamArchivers.LogPath(_cache)), Is.EqualTo("NCLG"u8.ToArray().Concat(new byte[] { 1, 0, 0, 0 })));
    }

    [Test]
    public async Task A_record_is_its_checksum_its_length_and_a_protobuf_payload()
    {
        await _cache.SetAsync("key", "value", flags: 42, exptime: 100);
        await _cache.StopAsync();
        var log = File.ReadAllBytes(StreamArchivers.LogPath(_cache));

        var length = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(12));
        Assert.That(length, Is.EqualTo(log.Length - 16));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(8)), Is.EqualTo(StreamLogFormat.Crc32C(log.AsSpan(12))));
        var record = LogRecord.Parser.ParseFrom(log.AsSpan(16));
        Assert.That(record.Sequence, Is.EqualTo(1));
        Assert.That(record.Store.Key.ToStringUtf8(), Is.EqualTo("key"));
        Assert.That(record.Store.Value.ToStringUtf8(), Is.EqualTo("value"));
        Assert.That(record.Store.Flags, Is.EqualTo(42));
        Assert.That(record.Store.ExpiresAt, Is.EqualTo(_cache.Time.UnixSeconds + 100));
    }

    [Test]
    public async Task The_documented_example_is_the_file_byte_for_byte()
    {
        Assert.That(_cache.Time.UnixSeconds, Is.EqualTo(1_700_000_000));
        await _cache.SetAsync("key", "value", flags: 42, exptime: 100);
        await _cache.StopAsync();

        Assert.That(Convert.ToHexString(File.ReadAllBytes(StreamArchivers.LogPath(_cache))), Is.EqualTo(
            "4E434C4701000000" + "BB190F1418000000" + "080112140A036B6579120576616C7565182A20E4E2CFAA06"));
    }

    [Test]
    public async Task Sequence_numbers_rise_by_one_per_record()
    {
        await _cache.SetAsync("a", "1");
        await _cache.SetAsync("b", "2");
        _cache.Cache.Delete(PersistedCache.Key("a"));
        _cache.Cache.Touch(PersistedCache.Key("b"), 10);
        _cache.Cache.FlushAll();
        await _cache.StopAsync();

        var sequences = StreamArchivers.Records(File.ReadAllBytes(StreamArchivers.LogPath(_cache))).Select(r => r.Sequence);

        Assert.That(sequences, Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5 }));
    }

    [Test]
    public async Task A_touch_writes_the_key_and_expiry_but_not_the_value()
    {
        await _cache.SetAsync("big", new string('x', 1000));
        _cache.Cache.Touch(PersistedCache.Key("big"), 60);
        await _cache.StopAsync();
        var log = File.ReadAllBytes(StreamArchivers.LogPath(_cache));

        var touch = StreamArchivers.Records(log)[^1];
        Assert.That(touch.ChangeCase, Is.EqualTo(LogRecord.ChangeOneofCase.Touch));
        Assert.That(touch.Touch.ExpiresAt, Is.EqualTo(_cache.Time.UnixSeconds + 60));
        Assert.That(log.Length - StreamArchivers.FrameOffsets(log)[^1], Is.LessThan(32));
    }

    [Test]
    public async Task Deletes_and_capacity_evictions_are_tombstones_and_expiry_writes_nothing()
    {
        await _cache.DisposeAsync();
        _cache = new PersistedCache(_archivers.Factory, cacheOptions: new CacheOptions { MaxItemSize = 1024, MemoryLimitBytes = 2048 }).Start();
        await _cache.SetAsync("expires", "x", exptime: 5);
        _cache.Time.AdvanceSeconds(10);
        _cache.Cache.ReclaimExpired();
        await _cache.SetAsync("deleted", "x");
        _cache.Cache.Delete(PersistedCache.Key("deleted"));
        for (var i = 0; i < 4; i++)
        {
            await _cache.SetAsync($"fill{i}", new string('x', 800));
        }
        var evicted = Enumerable.Range(0, 4).Select(i => $"fill{i}").Except(PersistedCache.VisibleState(_cache.Cache).Keys).ToList();
        await _cache.StopAsync();

        var removals = StreamArchivers.Records(File.ReadAllBytes(StreamArchivers.LogPath(_cache)))
            .Where(r => r.ChangeCase == LogRecord.ChangeOneofCase.Remove)
            .Select(r => (r.Remove.Key.ToStringUtf8(), r.Remove.Reason))
            .ToList();

        Assert.That(evicted, Is.Not.Empty);
        Assert.That(removals, Is.EquivalentTo(evicted.Select(key => (key, RemoveReason.CapacityEviction)).Append(("deleted", RemoveReason.Delete))));
    }

    [Test]
    public async Task A_delayed_flush_is_written_as_pending_and_an_immediate_one_is_not()
    {
        _cache.Cache.FlushAll(delay: 100);
        _cache.Cache.FlushAll();
        await _cache.StopAsync();

        var flushes = StreamArchivers.Records(File.ReadAllBytes(StreamArchivers.LogPath(_cache))).Select(r => r.Flush).ToList();

        Assert.That(flushes, Is.EqualTo(new[]
        {
            new FlushRecord { FlushAt = _cache.Time.UnixSeconds + 100, Pending = true },
            new FlushRecord { FlushAt = _cache.Time.UnixSeconds, Pending = false },
        }));
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task A_new_data_directory_and_log_are_the_owners_alone()
    {
        await _cache.StopAsync();

        Assert.That(File.GetUnixFileMode(_cache.DataDirectory), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.That(File.GetUnixFileMode(StreamArchivers.LogPath(_cache)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }
}

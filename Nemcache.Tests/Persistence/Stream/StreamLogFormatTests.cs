using System.Buffers.Binary;
using System.Runtime.Versioning;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>cachelog.bin byte by byte, as docs/persistence.md describes it.</summary>
public sealed class StreamLogFormatTests : StreamArchiverFixture
{

    [Test]
    public void The_frame_checksum_is_the_standard_crc32c_of_length_and_payload()
    {
        Assert.That(StreamLogFormat.FrameChecksum("1234"u8, "56789"u8), Is.EqualTo(0xE3069283u));
        Assert.That(StreamLogFormat.FrameChecksum(new byte[4], new byte[28]), Is.EqualTo(0x8A9136AAu));
    }

    [Test]
    public async Task A_new_log_is_the_magic_and_the_version()
    {
        await Server.StopAsync();

        Assert.That(File.ReadAllBytes(LogPath), Is.EqualTo("NCLG"u8.ToArray().Concat(new byte[] { 1, 0, 0, 0 })));
    }

    [Test]
    public async Task A_record_is_its_checksum_its_length_and_a_protobuf_payload()
    {
        await Server.SetAsync("key", "value", flags: 42, exptime: 100);
        await Server.StopAsync();
        var log = File.ReadAllBytes(LogPath);

        var length = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(12));
        Assert.That(length, Is.EqualTo(log.Length - 16));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(8)), Is.EqualTo(StreamLogFormat.FrameChecksum(log.AsSpan(12, 4), log.AsSpan(16))));
        var record = LogRecord.Parser.ParseFrom(log.AsSpan(16));
        Assert.That(record.Sequence, Is.EqualTo(1));
        Assert.That(record.Store.Key.ToStringUtf8(), Is.EqualTo("key"));
        Assert.That(record.Store.Value.ToStringUtf8(), Is.EqualTo("value"));
        Assert.That(record.Store.Flags, Is.EqualTo(42));
        Assert.That(record.Store.ExpiresAt, Is.EqualTo(Server.Time.UnixSeconds + 100));
    }

    [Test]
    public async Task The_documented_example_is_the_file_byte_for_byte()
    {
        Assert.That(Server.Time.UnixSeconds, Is.EqualTo(1_700_000_000));
        await Server.SetAsync("key", "value", flags: 42, exptime: 100);
        await Server.StopAsync();

        Assert.That(Convert.ToHexString(File.ReadAllBytes(LogPath)), Is.EqualTo(
            "4E434C4701000000" + "6FD2FCC21F000000" + "0801121B0A036B6579120576616C7565182A20E4E2CFAA0628818080808020"));
    }

    [Test]
    public async Task Sequence_numbers_rise_by_one_per_record()
    {
        await Server.SetAsync("a", "1");
        await Server.SetAsync("b", "2");
        Server.Cache.Delete(PersistedCache.Key("a"));
        Server.Cache.Touch(PersistedCache.Key("b"), 10);
        Server.Cache.FlushAll();
        await Server.StopAsync();

        var sequences = StreamArchivers.Records(File.ReadAllBytes(LogPath)).Select(r => r.Sequence);

        Assert.That(sequences, Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5 }));
    }

    [Test]
    public async Task A_touch_writes_the_key_and_expiry_but_not_the_value()
    {
        await Server.SetAsync("big", new string('x', 1000));
        Server.Cache.Touch(PersistedCache.Key("big"), 60);
        await Server.StopAsync();
        var log = File.ReadAllBytes(LogPath);

        var touch = StreamArchivers.Records(log)[^1];
        Assert.That(touch.ChangeCase, Is.EqualTo(LogRecord.ChangeOneofCase.Touch));
        Assert.That(touch.Touch.ExpiresAt, Is.EqualTo(Server.Time.UnixSeconds + 60));
        Assert.That(log.Length - StreamArchivers.FrameOffsets(log)[^1], Is.LessThan(32));
    }

    [Test]
    public async Task Deletes_and_capacity_evictions_are_tombstones_and_expiry_writes_nothing()
    {
        await ReplaceServerAsync(cacheOptions: new CacheOptions { MaxItemSize = 1024, MemoryLimitBytes = 2048 });
        await Server.SetAsync("expires", "x", exptime: 5);
        Server.Time.AdvanceSeconds(10);
        Server.Cache.ReclaimExpired();
        await Server.SetAsync("deleted", "x");
        Server.Cache.Delete(PersistedCache.Key("deleted"));
        for (var i = 0; i < 4; i++)
        {
            await Server.SetAsync($"fill{i}", new string('x', 800));
        }
        var evicted = Enumerable.Range(0, 4).Select(i => $"fill{i}").Except(PersistedCache.VisibleState(Server.Cache).Keys).ToList();
        await Server.StopAsync();

        var removals = StreamArchivers.Records(File.ReadAllBytes(LogPath))
            .Where(r => r.ChangeCase == LogRecord.ChangeOneofCase.Remove)
            .Select(r => (r.Remove.Key.ToStringUtf8(), r.Remove.Reason))
            .ToList();

        Assert.That(evicted, Is.Not.Empty);
        Assert.That(removals, Is.EquivalentTo(evicted.Select(key => (key, RemoveReason.CapacityEviction)).Append(("deleted", RemoveReason.Delete))));
    }

    [Test]
    public async Task A_delayed_flush_is_written_as_pending_and_an_immediate_one_is_not()
    {
        Server.Cache.FlushAll(delay: 100);
        Server.Cache.FlushAll();
        await Server.StopAsync();

        var flushes = StreamArchivers.Records(File.ReadAllBytes(LogPath)).Select(r => r.Flush).ToList();

        Assert.That(flushes, Is.EqualTo(new[]
        {
            new FlushRecord { FlushAt = Server.Time.UnixSeconds + 100, Pending = true },
            new FlushRecord { FlushAt = Server.Time.UnixSeconds, Pending = false },
        }));
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task A_new_data_directory_and_log_are_the_owners_alone()
    {
        await Server.StopAsync();

        Assert.That(File.GetUnixFileMode(Server.DataDirectory), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.That(File.GetUnixFileMode(LogPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }
}

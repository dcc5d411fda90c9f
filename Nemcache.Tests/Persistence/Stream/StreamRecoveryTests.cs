using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>Restores from damaged, empty, missing and foreign logs.</summary>
public sealed class StreamRecoveryTests : StreamArchiverFixture
{

    private IEnumerable<string> Warnings => Archivers.Logger.At(LogLevel.Warning);

    /// <summary>Three records: a, b, and c, whose value makes the last frame long enough to cut in many places.</summary>
    private async Task<byte[]> WriteThreeRecordsAsync()
    {
        await Server.SetAsync("a", "first", flags: 1);
        await Server.SetAsync("b", "second", flags: 2);
        await Server.SetAsync("c", "third and last, long enough to be cut in many places", flags: 3);
        await Server.StopAsync();
        return File.ReadAllBytes(LogPath);
    }

    private string[] SetAside() => Directory.GetFiles(Server.DataDirectory, StreamLogFormat.DamagedFilePrefix + "*");

    private async Task<Dictionary<string, VisibleItem>> RestoreFromAsync(byte[] log)
    {
        await File.WriteAllBytesAsync(LogPath, log);
        Server.Start();
        var state = PersistedCache.VisibleState(Server.Cache);
        await Server.StopAsync();
        return state;
    }

    [Test]
    public async Task A_cut_at_every_byte_of_the_last_record_drops_only_that_record()
    {
        var log = await WriteThreeRecordsAsync();
        var lastStart = StreamArchivers.FrameOffsets(log)[^1];

        for (var cut = lastStart; cut < log.Length; cut++)
        {
            var state = await RestoreFromAsync(log[..cut]);

            Assert.That(state.Keys, Is.EquivalentTo(new[] { "a", "b" }), $"cut at {cut}");
            Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(lastStart), $"cut at {cut}");
            if (cut > lastStart)
            {
                Assert.That(Warnings.Last(), Does.Contain($"dropped {cut - lastStart} bytes from offset {lastStart}"), $"cut at {cut}");
            }
        }

        // The log goes on from the last good record: what is written next replays.
        Server.Start();
        await Server.SetAsync("d", "after the repair");
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "a", "b", "d" }));
    }

    [Test]
    public async Task A_flipped_byte_in_a_middle_record_skips_it_and_replays_the_rest()
    {
        var log = await WriteThreeRecordsAsync();
        var middle = StreamArchivers.FrameOffsets(log)[1];
        log[middle + 12] ^= 0x40;

        var state = await RestoreFromAsync(log);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "a", "c" }));
        Assert.That(Warnings.First(), Does.Contain($"skipped a damaged record").And.Contain($"at offset {middle}: checksum mismatch"));
        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(log.Length));
        Assert.That(File.ReadAllBytes(SetAside().Single()), Is.EqualTo(log), "the log as it was is kept before a compaction rewrites it");
    }

    [Test]
    public async Task A_flipped_bit_in_a_middle_length_costs_only_that_record()
    {
        var log = await WriteThreeRecordsAsync();
        var frames = StreamArchivers.FrameOffsets(log);
        log[frames[1] + 6] ^= 0x01;

        var state = await RestoreFromAsync(log);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "a", "c" }));
        Assert.That(Warnings.First(), Does.Contain($"skipped a damaged record, {frames[2] - frames[1]} bytes at offset {frames[1]}"));
        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(log.Length));
    }

    [Test]
    public async Task Damage_to_the_first_record_of_a_compacted_log_costs_only_that_record()
    {
        // Far more records before the compaction than bytes in a record, so the snapshot's sequence is far above 0.
        for (var i = 0; i < 300; i++)
        {
            await Server.SetAsync("k", $"version {i}");
        }
        for (var i = 0; i < 5; i++)
        {
            await Server.SetAsync($"key{i}", $"value {i}");
        }
        await Server.Plugin.CompactAsync();
        await Server.StopAsync();
        var log = File.ReadAllBytes(LogPath);
        var frames = StreamArchivers.FrameOffsets(log);
        var first = StreamArchivers.Records(log)[0];
        Assert.That(first.Sequence, Is.EqualTo(305UL), "snapshot records carry the old log's last sequence");
        log[frames[0] + 7] ^= 0x80;

        var state = await RestoreFromAsync(log);

        Assert.That(state, Has.Count.EqualTo(5), "all but the damaged record's key");
        Assert.That(state.Keys, Does.Not.Contain(first.Store.Key.ToStringUtf8()));
        Assert.That(Warnings.First(), Does.Contain($"skipped a damaged record, {frames[1] - frames[0]} bytes at offset {frames[0]}"));
    }

    [Test]
    public async Task A_damaged_length_that_points_exactly_at_a_later_frame_costs_only_its_record()
    {
        // Records of one size: a length damaged to cover two frames lands exactly on the third.
        for (var i = 0; i < 10; i++)
        {
            await Server.SetAsync($"key{i}", "same size");
        }
        await Server.StopAsync();
        var log = File.ReadAllBytes(LogPath);
        var frames = StreamArchivers.FrameOffsets(log);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(frames[4] + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(log.AsSpan(frames[4] + 4), length + (uint)(frames[5] - frames[4]));

        var state = await RestoreFromAsync(log);

        Assert.That(state.Keys, Is.EquivalentTo(Enumerable.Range(0, 10).Where(i => i != 4).Select(i => $"key{i}")),
            "the intact record the damaged length stepped over is kept");
        Assert.That(Warnings.First(), Does.Contain($"skipped a damaged record, {frames[5] - frames[4]} bytes at offset {frames[4]}"));
    }

    [Test]
    public async Task Random_bytes_over_several_records_cost_only_those_records()
    {
        for (var i = 0; i < 100; i++)
        {
            await Server.SetAsync($"key{i}", $"value {i} ".PadRight(40, '.'));
        }
        await Server.StopAsync();
        var log = File.ReadAllBytes(LogPath);
        var frames = StreamArchivers.FrameOffsets(log);
        // From inside record 30 to inside record 36, garbage of a fixed seed.
        var start = frames[30] + 5;
        new Random(11).NextBytes(log.AsSpan(start, frames[36] + 3 - start));

        var state = await RestoreFromAsync(log);

        var lost = Enumerable.Range(30, 7).Select(i => $"key{i}");
        Assert.That(state.Keys, Is.EquivalentTo(Enumerable.Range(0, 100).Select(i => $"key{i}").Except(lost)));
        Assert.That(Warnings.First(), Does.Contain($"skipped a damaged record, {frames[37] - frames[30]} bytes at offset {frames[30]}"));
    }

    [Test]
    public async Task A_flipped_byte_in_the_last_record_truncates_it()
    {
        var log = await WriteThreeRecordsAsync();
        var last = StreamArchivers.FrameOffsets(log)[^1];
        log[^3] ^= 0xFF;

        var state = await RestoreFromAsync(log);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(Warnings.Single(), Does.Contain($"dropped {log.Length - last} bytes from offset {last} (checksum mismatch)"));
        Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(last));
        Assert.That(File.ReadAllBytes(SetAside().Single()), Is.EqualTo(log[last..]), "the dropped bytes are kept");
    }

    [Test]
    public async Task A_record_that_checks_out_but_does_not_parse_is_skipped()
    {
        var log = await WriteThreeRecordsAsync();
        var middle = StreamArchivers.FrameOffsets(log)[1];
        // 0xFF is no valid protobuf tag; re-seal the frame so only the payload is wrong.
        log[middle + 8] = 0xFF;
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(middle + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(log.AsSpan(middle),
            StreamLogFormat.FrameChecksum(log.AsSpan(middle + 4, 4), log.AsSpan(middle + 8, length)));

        var state = await RestoreFromAsync(log);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "a", "c" }));
        Assert.That(Warnings.First(), Does.Contain("does not parse"));
    }

    [Test]
    public async Task An_empty_log_file_starts_an_emptyServer_with_a_new_log()
    {
        await Server.StopAsync();

        var state = await RestoreFromAsync([]);

        Assert.That(state, Is.Empty);
        Assert.That(File.ReadAllBytes(LogPath), Has.Length.EqualTo(8));
        Assert.That(Warnings, Is.Empty);
    }

    [Test]
    public async Task A_missing_log_file_starts_an_emptyServer_with_a_new_log()
    {
        await Server.SetAsync("a", "1");
        await Server.StopAsync();
        File.Delete(LogPath);

        Server.Start();

        Assert.That(PersistedCache.VisibleState(Server.Cache), Is.Empty);
        Assert.That(File.Exists(LogPath));
    }

    [Test]
    public async Task A_torn_header_starts_a_new_log_with_a_warning()
    {
        await Server.StopAsync();

        var state = await RestoreFromAsync("NCL"u8.ToArray());

        Assert.That(state, Is.Empty);
        Assert.That(Warnings.Single(), Does.Contain("torn header of 3 bytes"));
        Assert.That(File.ReadAllBytes(LogPath), Has.Length.EqualTo(8));
    }

    [Test]
    public async Task A_file_that_is_not_a_log_stops_startup_and_is_left_alone()
    {
        await Server.StopAsync();
        var foreign = "GIF89a and more"u8.ToArray();
        await File.WriteAllBytesAsync(LogPath, foreign);

        var error = Assert.Throws<PersistenceException>(() => Server.Start());

        Assert.That(error!.Message, Does.Contain("not a Nemcache log"));
        Assert.That(File.ReadAllBytes(LogPath), Is.EqualTo(foreign));
    }

    [Test]
    public async Task A_log_of_a_newer_format_version_stops_startup()
    {
        await Server.StopAsync();
        await File.WriteAllBytesAsync(LogPath, "NCLG"u8.ToArray().Concat(new byte[] { 2, 0, 0, 0 }).ToArray());

        var error = Assert.Throws<PersistenceException>(() => Server.Start());

        Assert.That(error!.Message, Does.Contain("version 2"));
    }

    [Test]
    public async Task Startup_logs_one_summary_line()
    {
        await Server.SetAsync("a", "12345");
        await Server.SetAsync("bb", "1");
        await Server.RestartAsync();

        Assert.That(Archivers.Logger.At(LogLevel.Information).Last(),
            Does.Match(@"^restored 2 items \(9 bytes\) from cachelog\.bin in \d+ ms$"));
    }
}

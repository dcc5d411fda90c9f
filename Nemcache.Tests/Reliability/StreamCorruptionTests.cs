using System.Buffers.Binary;
using Nemcache.Storage.Persistence.Stream;
using Nemcache.Tests.Persistence.Stream;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// The quick form of tests/corrupt.py for the stream log: a data directory written by the real server is damaged in
/// copies, and the server must start on each copy, name what it skipped, and serve everything else exactly.
/// </summary>
[TestFixture]
public sealed class StreamCorruptionTests
{
    private const int Keys = 120;
    private string _original = null!;
    private byte[] _log = null!;
    private List<int> _frames = null!;

    [OneTimeSetUp]
    public async Task WriteARealDataDirectory()
    {
        _original = ServerProcess.NewDataDirectory();
        await using (var server = await ServerProcess.StartAsync(_original))
        {
            using var client = await server.ConnectAsync();
            for (var i = 0; i < Keys; i++)
            {
                await client.ExpectAsync($"set key{i} {i} 0 {Value(i).Length}\r\n{Value(i)}\r\n", "STORED\r\n");
            }
            Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
        }
        _log = await File.ReadAllBytesAsync(LogIn(_original));
        _frames = StreamArchivers.FrameOffsets(_log);
        Assert.That(_frames, Has.Count.EqualTo(Keys), "one record per set");
    }

    [OneTimeTearDown]
    public void RemoveIt() => Directory.Delete(_original, recursive: true);

    [Test]
    public async Task A_flipped_byte_in_one_record_skips_that_record_only()
    {
        var victim = Keys / 2;
        var (output, found) = await RestartOnDamagedCopy(log => log[_frames[victim] + StreamLogFormat.FrameHeaderSize + 3] ^= 0xFF);

        Assert.That(output, Does.Contain($"skipped a damaged record, {FrameLength(victim)} bytes at offset {_frames[victim]}"));
        AssertServedAllBut(found, [victim]);
    }

    [Test]
    public async Task A_zero_filled_region_costs_only_the_records_it_covers()
    {
        // Zeros from inside record 40 to inside record 41: replay finds record 42 and goes on from there.
        var start = _frames[40] + 10;
        var (output, found) = await RestartOnDamagedCopy(log => log.AsSpan(start, _frames[41] + 10 - start).Clear());

        Assert.That(output, Does.Contain($"skipped a damaged record, {_frames[42] - _frames[40]} bytes at offset {_frames[40]}"));
        AssertServedAllBut(found, [40, 41]);
    }

    [Test]
    public async Task A_flipped_bit_in_a_length_field_mid_log_costs_only_that_record()
    {
        var victim = Keys / 3;
        var (output, found) = await RestartOnDamagedCopy(log => log[_frames[victim] + 5] ^= 0x10);

        Assert.That(output, Does.Contain($"skipped a damaged record, {FrameLength(victim)} bytes at offset {_frames[victim]}"));
        AssertServedAllBut(found, [victim]);
    }

    [Test]
    public async Task Truncation_at_every_offset_of_the_last_record_loses_only_that_record()
    {
        var last = _frames[^1];
        for (var cut = last + 1; cut < _log.Length; cut++)
        {
            var (output, found) = await RestartOnDamagedCopy(_ => { }, truncateAt: cut);
            Assert.That(output, Does.Contain($"dropped {cut - last} bytes from offset {last}"), $"cut at {cut}");
            AssertServedAllBut(found, [Keys - 1]);
        }
    }

    [Test]
    public async Task Stray_files_change_nothing()
    {
        var (output, found) = await RestartOnDamagedCopy(_ => { }, addStrays: true);

        Assert.That(output, Does.Not.Contain("warn"));
        AssertServedAllBut(found, []);
    }

    private static string Value(int i) => $"value-{i}-".PadRight(20 + i % 50, '.');

    private static string LogIn(string directory) => Path.Combine(directory, StreamLogFormat.LogFileName);

    private int FrameLength(int index) =>
        StreamLogFormat.FrameHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(_log.AsSpan(_frames[index] + 4));

    private async Task<(string Output, Dictionary<string, (uint Flags, string Value)> Found)> RestartOnDamagedCopy(
        Action<byte[]> damage, int? truncateAt = null, bool addStrays = false)
    {
        var copy = ServerProcess.NewDataDirectory();
        Directory.CreateDirectory(copy);
        var log = (byte[])_log.Clone();
        damage(log);
        await File.WriteAllBytesAsync(LogIn(copy), log.AsMemory(0, truncateAt ?? log.Length).ToArray());
        if (addStrays)
        {
            await File.WriteAllTextAsync(Path.Combine(copy, "stray.txt"), "not ours");
            await File.WriteAllBytesAsync(Path.Combine(copy, StreamLogFormat.CompactionFileName), new byte[300]);
            Directory.CreateDirectory(Path.Combine(copy, "stray-dir"));
        }
        await using var server = await ServerProcess.StartAsync(copy);
        using var client = await server.ConnectAsync();
        var found = await client.GetManyAsync(Enumerable.Range(0, Keys).Select(i => $"key{i}"));
        Directory.Delete(copy, recursive: true);
        return (server.Output, found);
    }

    private static void AssertServedAllBut(Dictionary<string, (uint Flags, string Value)> found, IEnumerable<int> lost)
    {
        var missing = lost.ToHashSet();
        for (var i = 0; i < Keys; i++)
        {
            if (missing.Contains(i))
            {
                Assert.That(found, Does.Not.ContainKey($"key{i}"));
            }
            else
            {
                Assert.That(found[$"key{i}"], Is.EqualTo(((uint)i, Value(i))), $"key{i}");
            }
        }
    }
}

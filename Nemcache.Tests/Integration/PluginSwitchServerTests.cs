using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// Switching the persistence plugin of a data directory, in the real server: the directory's PLUGIN names its owner,
/// every switch imports the other plugin's state once and sets its files aside, and a SIGKILL during an import costs
/// nothing, because the next start does the import again from the untouched source.
/// </summary>
[TestFixture]
public sealed class PluginSwitchServerTests
{
    private const string Stream = "stream";
    private const string Bitcask = "bitcask";

    private static Dictionary<string, string> Settings(string plugin, string maxFileBytes = "8192") => plugin == Bitcask
        ? new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = "1", ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = maxFileBytes }
        : new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = "0" };

    [Test]
    public async Task Switching_back_and_forth_keeps_every_write_and_every_deletion()
    {
        var directory = ServerProcess.NewDataDirectory();
        var expected = new Dictionary<string, (uint Flags, string Value)>();
        var everyKey = new HashSet<string>();
        string[] plugins = [Stream, Bitcask, Stream, Bitcask, Bitcask];
        ulong? lastToken = null;
        try
        {
            for (var period = 0; period < plugins.Length; period++)
            {
                var plugin = plugins[period];
                await using var server = await ServerProcess.StartAsync(directory, Settings(plugin));
                using var client = await server.ConnectAsync();
                var when = $"at the start of period {period} ({plugin})";
                await AssertHoldsExactlyAsync(client, expected, everyKey, when);
                if (period > 0 && plugins[period - 1] != plugin)
                {
                    Assert.That(server.Output, Does.Contain($"switched from {plugins[period - 1]} to {plugin}: imported {expected.Count} items"),
                        $"{when}: one line says what happened\n{server.Output}");
                }
                else
                {
                    Assert.That(server.Output, Does.Not.Contain("switched from"), $"{when}\n{server.Output}");
                }

                if (lastToken is not null)
                {
                    // A token from before the switch never matches a later version of the item.
                    await client.ExpectAsync("set shared 0 0 7\r\nchanged\r\n", "STORED\r\n");
                    await client.ExpectAsync($"cas shared 0 0 5 {lastToken}\r\nstale\r\n", "EXISTS\r\n");
                }

                await WritePeriodAsync(client, period, expected, everyKey);
                await AssertHoldsExactlyAsync(client, expected, everyKey, $"at the end of period {period} ({plugin})");
                lastToken = await client.GetsTokenAsync("shared");
                // Acknowledged writes have reached the OS, so a kill keeps them as a graceful stop does.
                if (period % 2 == 1)
                {
                    await server.KillAsync();
                }
                else
                {
                    Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
                }
            }
            Assert.Multiple(() =>
            {
                Assert.That(File.ReadAllText(Path.Combine(directory, "PLUGIN")), Is.EqualTo(Bitcask + "\n"));
                Assert.That(File.Exists(Path.Combine(directory, "cachelog.bin")), Is.False, "the stream log is set aside");
                Assert.That(File.Exists(Path.Combine(directory, "cachelog.bin.imported")), Is.True);
                Assert.That(Directory.GetFiles(directory, "data.*.imported"), Is.Empty,
                    "the first Bitcask period's files, set aside at the switch to stream, are older than Bitcask's new ones");
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCase(Stream, Bitcask, TestName = "A SIGKILL during the import from stream to bitcask loses nothing")]
    [TestCase(Bitcask, Stream, TestName = "A SIGKILL during the import from bitcask to stream loses nothing")]
    public async Task A_sigkill_during_an_import_loses_nothing(string from, string to)
    {
        const int Items = 20_000;
        // 1 MiB Bitcask files: every rotation fsyncs, which keeps an import into Bitcask going long enough to kill.
        const string MaxFileBytes = "1048576";
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var server = await ServerProcess.StartAsync(directory, Settings(from, MaxFileBytes)))
            {
                using var client = await server.ConnectAsync();
                for (var first = 0; first < Items; first += 500)
                {
                    var batch = Enumerable.Range(first, 500).ToList();
                    await client.ExpectAsync(string.Concat(batch.Select(i => $"set k{i} {i} 0 {ValueOf(i).Length}\r\n{ValueOf(i)}\r\n")),
                        string.Concat(Enumerable.Repeat("STORED\r\n", batch.Count)));
                }
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
            }

            await using (var importing = ServerProcess.Spawn(directory, Settings(to, MaxFileBytes)))
            {
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (!IsPartWritten(directory, to) && !importing.HasExited && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(1);
                }
                await importing.KillAsync();
                var owner = Path.Combine(directory, "PLUGIN");
                Assert.That(File.Exists(owner) ? File.ReadAllText(owner) : null, Is.Not.EqualTo(to + "\n"),
                    $"the kill came while {to} was writing its copy\n{importing.Output}");
            }

            await using (var server = await ServerProcess.StartAsync(directory, Settings(to, MaxFileBytes)))
            {
                Assert.That(server.Output, Does.Contain($"switched from {from} to {to}: imported {Items} items"), server.Output);
                using var client = await server.ConnectAsync();
                for (var first = 0; first < Items; first += 500)
                {
                    var keys = Enumerable.Range(first, 500).ToList();
                    var found = await client.GetManyAsync(keys.Select(i => $"k{i}"));
                    foreach (var i in keys)
                    {
                        Assert.That(found.GetValueOrDefault($"k{i}"), Is.EqualTo(((uint)i, ValueOf(i))), $"k{i}");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task A_marker_naming_an_unknown_plugin_stops_startup_in_one_line()
    {
        var directory = ServerProcess.NewDataDirectory();
        Directory.CreateDirectory(directory);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "PLUGIN"), "leveldb\n");
            var (exitCode, output) = await ServerProcess.RunUntilExitAsync(Settings(Stream), "--port",
                ServerProcess.FreePort().ToString(), "--data-dir", directory);
            Assert.That(exitCode, Is.EqualTo(1), output);
            Assert.That(output.Trim().Split('\n'), Has.One.Contains("'leveldb'"), output);
            Assert.That(File.Exists(Path.Combine(directory, "cachelog.bin")), Is.False, "nothing was written");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The new plugin has begun writing its copy: a Bitcask data file past the first three, or a
    /// stream log being built that already holds 64 KiB of records.</summary>
    private static bool IsPartWritten(string directory, string plugin) => plugin == Bitcask
        ? File.Exists(Path.Combine(directory, "data.3"))
        : new FileInfo(Path.Combine(directory, "cachelog.bin.compacting")) is { Exists: true, Length: > 64 << 10 };

    private static string ValueOf(int i) => $"{i:D6}".PadRight(1000, (char)('a' + i % 26));

    /// <summary>
    /// One period's changes: new keys, changed keys, keys of the previous period deleted, a key set and deleted, and in
    /// the third period a flush_all before the rest.
    /// </summary>
    private static async Task WritePeriodAsync(TextClient client, int period,
        Dictionary<string, (uint Flags, string Value)> expected, HashSet<string> everyKey)
    {
        if (period == 2)
        {
            await client.ExpectAsync("flush_all\r\n", "OK\r\n");
            expected.Clear();
        }
        async Task SetAsync(string key, uint flags, string value)
        {
            await client.ExpectAsync($"set {key} {flags} 0 {value.Length}\r\n{value}\r\n", "STORED\r\n");
            expected[key] = (flags, value);
            everyKey.Add(key);
        }
        async Task DeleteAsync(string key)
        {
            await client.ExpectAsync($"delete {key}\r\n", expected.Remove(key) ? "DELETED\r\n" : "NOT_FOUND\r\n");
            everyKey.Add(key);
        }

        for (var i = 0; i < 20; i++)
        {
            await SetAsync($"p{period}-{i}", (uint)period, $"period {period} item {i}");
        }
        await SetAsync("shared", (uint)period, $"written in period {period}");
        if (period > 0)
        {
            for (var i = 0; i < 20; i += 3)
            {
                await DeleteAsync($"p{period - 1}-{i}");
            }
            for (var i = 1; i < 20; i += 3)
            {
                await SetAsync($"p{period - 1}-{i}", 100 + (uint)period, $"changed in period {period}");
            }
        }
        await SetAsync($"gone{period}", 0, "deleted in the same period");
        await DeleteAsync($"gone{period}");
    }

    private static async Task AssertHoldsExactlyAsync(TextClient client, Dictionary<string, (uint Flags, string Value)> expected,
        HashSet<string> everyKey, string when)
    {
        var found = everyKey.Count == 0 ? [] : await client.GetManyAsync(everyKey);
        Assert.Multiple(() =>
        {
            foreach (var key in everyKey)
            {
                Assert.That(found.TryGetValue(key, out var item) ? item : default((uint, string)?),
                    Is.EqualTo(expected.TryGetValue(key, out var wanted) ? wanted : default((uint, string)?)), $"{key} {when}");
            }
        });
    }
}

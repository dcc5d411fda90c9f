using System.Security.Cryptography;
using System.Text;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// nemcache-data, the real executable, on data directories written by the real server of each plugin while that server
/// still runs and holds the directory's LOCK: verify, stats, and a dump that memcached 1.6.18 loads.
/// </summary>
[TestFixture]
public sealed class DataToolTests
{
    private const string BinaryKeyBase64 = "a2V5IHdpdGggc3BhY2U="; // "key with space", which only the meta protocol's b flag can name

    public static IEnumerable<TestCaseData> Plugins()
    {
        yield return new TestCaseData(new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = "0" })
            .SetArgDisplayNames("stream");
        // Small files, so that the directory has immutable files with hints as well as an active file.
        yield return new TestCaseData(new Dictionary<string, string>
        {
            ["NEMCACHE_USE_BITCASK"] = "1",
            ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "4096",
        }).SetArgDisplayNames("bitcask");
    }

    [TestCaseSource(nameof(Plugins))]
    public async Task A_dump_of_a_running_servers_directory_loads_into_memcached_with_the_same_items(
        Dictionary<string, string> plugin)
    {
        await using var server = await ServerProcess.StartAsync(environment: plugin);
        using var client = await server.ConnectAsync();
        var keys = await WriteItemsAsync(client);

        var (verifyExit, verifyOutput) = await DataToolProcess.RunForTextAsync("verify", server.DataDirectory);
        Assert.That(verifyExit, Is.EqualTo(0), verifyOutput);
        Assert.That(verifyOutput, Does.Contain("clean").And.Not.Contain("DAMAGE"));

        var (statsExit, statsOutput) = await DataToolProcess.RunForTextAsync("stats", server.DataDirectory);
        Assert.That(statsExit, Is.EqualTo(0), statsOutput);
        Assert.That(statsOutput, Does.Contain($"keys {keys.Count + 1}\n"), "the text keys and the binary one");

        var (dumpExit, dump, dumpErrors) = await DataToolProcess.RunAsync("dump", server.DataDirectory);
        Assert.That(dumpExit, Is.EqualTo(0), dumpErrors);
        await using var memcached = await MemcachedProcess.StartAsync();
        using var loader = await memcached.ConnectAsync();
        await loader.SendAsync([.. dump, .. "mn\r\n"u8]);
        var replies = new List<string>();
        while (await loader.ReadLineAsync() is var line && line != "MN")
        {
            replies.Add(line);
        }
        Assert.That(replies, Has.Count.EqualTo(keys.Count + 1).And.All.AnyOf("STORED", "HD"));

        Assert.That(await loader.GetManyAsync(keys), Is.EqualTo(await client.GetManyAsync(keys)));
        await loader.ExpectAsync($"mg {BinaryKeyBase64} b f v\r\n", "VA 3 f7\r\nbin\r\n");
        // Expiry crosses as the absolute time it is: what remains of an hour, and of the day a touch gave.
        Assert.That(await RemainingSecondsAsync(loader, "ttl"), Is.InRange(3590, 3600));
        Assert.That(await RemainingSecondsAsync(loader, "touched"), Is.InRange(86390, 86400));
        Assert.That(await RemainingSecondsAsync(loader, "k1"), Is.EqualTo(-1));

        // The tool took neither the LOCK nor anything else from the server, which still serves and writes.
        Assert.That(server.HasExited, Is.False);
        // .NET's own open of LOCK fails for as long as another process holds its lock.
        Assert.Throws<IOException>(() => File.ReadAllText(Path.Combine(server.DataDirectory, "LOCK")), "the server still holds LOCK");
        await client.ExpectAsync("set after 0 0 1\r\nx\r\n", "STORED\r\n");
    }

    [TestCaseSource(nameof(Plugins))]
    public async Task A_pending_flush_all_becomes_the_dumped_items_expiry(Dictionary<string, string> plugin)
    {
        await using var server = await ServerProcess.StartAsync(environment: plugin);
        using var client = await server.ConnectAsync();
        await client.ExpectAsync("set forever 0 0 1\r\na\r\nset later 0 86400 1\r\nb\r\nset sooner 0 60 1\r\nc\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\n");
        var flushAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 600;
        await client.ExpectAsync("flush_all 600\r\n", "OK\r\n");

        var (exitCode, dump, errors) = await DataToolProcess.RunAsync("dump", server.DataDirectory);

        Assert.That(exitCode, Is.EqualTo(0), errors);
        var expiries = Encoding.Latin1.GetString(dump).Split("\r\n").Where(l => l.StartsWith("set "))
            .ToDictionary(l => l.Split(' ')[1], l => long.Parse(l.Split(' ')[3]));
        Assert.That(expiries.Keys, Is.EquivalentTo(new[] { "forever", "later", "sooner" }));
        Assert.That(expiries["forever"], Is.InRange(flushAt - 5, flushAt + 5), "the flush's deadline");
        Assert.That(expiries["later"], Is.EqualTo(expiries["forever"]), "the flush comes first");
        Assert.That(expiries["sooner"], Is.LessThan(expiries["forever"] - 500), "its own expiry comes first");
    }

    [TestCaseSource(nameof(Plugins))]
    public async Task Verify_names_a_flipped_byte_in_a_running_servers_file(Dictionary<string, string> plugin)
    {
        await using var server = await ServerProcess.StartAsync(environment: plugin);
        using var client = await server.ConnectAsync();
        await WriteItemsAsync(client);
        var path = LogFiles(server.DataDirectory).Single(f => File.ReadAllBytes(f).AsSpan().IndexOf("needle"u8) > 0);
        var file = Path.GetFileName(path);
        var at = File.ReadAllBytes(path).AsSpan().IndexOf("needle"u8);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            stream.Position = at;
            stream.WriteByte((byte)'N');
        }

        var (exitCode, output) = await DataToolProcess.RunForTextAsync("verify", server.DataDirectory);

        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output, Does.Match($@"DAMAGE {file}: damaged record, \d+ bytes at offset \d+: checksum mismatch"));
        var offset = long.Parse(System.Text.RegularExpressions.Regex.Match(output, @"at offset (\d+)").Groups[1].Value);
        Assert.That(offset, Is.InRange(at - 300, at), "the damaged record is the one holding the flipped byte");
        Assert.That(output, Does.EndWith("damaged: " + output.Split('\n').Count(l => l.StartsWith("DAMAGE")) + " finding(s)\n"));
        Assert.That(server.HasExited, Is.False);
    }

    [Test]
    public async Task Verify_names_a_damaged_bitcask_hint()
    {
        var bitcask = (Dictionary<string, string>)Plugins().Last().Arguments[0]!;
        await using var server = await ServerProcess.StartAsync(environment: bitcask);
        using var client = await server.ConnectAsync();
        await WriteItemsAsync(client);
        var hint = Path.Combine(server.DataDirectory, "data.1.hint");
        byte[]? bytes = null;
        await WaitUntilAsync(() => TryReadWhole(hint, out bytes) && bytes.Length > 100);
        bytes![60] ^= 0x01;
        File.WriteAllBytes(hint, bytes);

        var (exitCode, output) = await DataToolProcess.RunForTextAsync("verify", server.DataDirectory);

        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("DAMAGE data.1.hint: damaged, or it does not describe data.1"));
        Assert.That(output, Does.Contain("ok data.1: "), "the data file itself is intact");
    }

    [TestCaseSource(nameof(Plugins))]
    public async Task Reading_a_crashed_servers_directory_changes_no_byte_of_it(Dictionary<string, string> plugin)
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var server = await ServerProcess.StartAsync(directory, plugin))
            {
                using var client = await server.ConnectAsync();
                await WriteItemsAsync(client);
                await server.KillAsync();
            }
            // What a crash in the middle of an append leaves, which the server would cut at its next start.
            var newest = LogFiles(directory).Last();
            File.AppendAllText(newest, "torn!");
            var before = Fingerprint(directory);

            var (verifyExit, verifyOutput) = await DataToolProcess.RunForTextAsync("verify", directory);
            var (dumpExit, _, dumpErrors) = await DataToolProcess.RunAsync("dump", directory);
            var (statsExit, statsOutput) = await DataToolProcess.RunForTextAsync("stats", directory);

            Assert.That(verifyExit, Is.EqualTo(1), verifyOutput);
            Assert.That(verifyOutput, Does.Contain($"DAMAGE {Path.GetFileName(newest)}: "));
            Assert.That(dumpExit, Is.EqualTo(0), dumpErrors);
            Assert.That(statsExit, Is.EqualTo(0), statsOutput);
            Assert.That(Fingerprint(directory), Is.EqualTo(before));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCaseSource(nameof(Plugins))]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Reads_a_copy_it_may_not_write_to(Dictionary<string, string> plugin)
    {
        var asRoot = Environment.UserName == "root";
        if (asRoot && !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser"))
        {
            Assert.Ignore("running as root without runuser: no other user to read the copy as");
        }
        var copy = Path.Combine(Path.GetTempPath(), "nemcache-read-only-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var server = await ServerProcess.StartAsync(environment: plugin))
            {
                using var client = await server.ConnectAsync();
                await WriteItemsAsync(client);
                Assert.That(await server.TerminateAsync(), Is.EqualTo(0));
                Directory.CreateDirectory(copy);
                foreach (var file in Directory.GetFiles(server.DataDirectory))
                {
                    var target = Path.Combine(copy, Path.GetFileName(file));
                    File.Copy(file, target);
                    File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }
            }
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

            foreach (var verb in new[] { "verify", "stats", "dump" })
            {
                // root may write anything, so the copy is read as a user that may not.
                var (exitCode, _, errors) = asRoot
                    ? await DataToolProcess.RunAsUserAsync("nobody", verb, copy)
                    : await DataToolProcess.RunAsync(verb, copy);
                Assert.That(exitCode, Is.EqualTo(0), $"{verb}: {errors}");
            }
        }
        finally
        {
            if (Directory.Exists(copy))
            {
                File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Directory.Delete(copy, recursive: true);
            }
        }
    }

    [Test]
    public async Task Usage_errors_exit_2_with_one_line_naming_the_problem()
    {
        var (exitCode, output) = await DataToolProcess.RunForTextAsync("verify", "/nonexistent/nemcache");
        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(output, Does.StartWith("nemcache-data: /nonexistent/nemcache is not a directory"));
        (exitCode, output) = await DataToolProcess.RunForTextAsync("repair");
        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(output, Does.StartWith("nemcache-data: unknown command repair"));
        Assert.That(output.TrimEnd().Split('\n'), Has.Length.EqualTo(1), output);
    }

    /// <summary>Writes items that exercise the replay rules (overwrite, delete, touch, expiry, flags, a value holding
    /// CRLF, a binary key), and returns the text keys that should survive.</summary>
    private static async Task<List<string>> WriteItemsAsync(TextClient client)
    {
        var keys = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var value = i == 50 ? "needle-in-the-log" : $"value-{i}-" + new string('v', i % 17);
            await client.ExpectAsync($"set k{i} {i * 1000} 0 {value.Length}\r\n{value}\r\n", "STORED\r\n");
            keys.Add($"k{i}");
        }
        await client.ExpectAsync("set k2 7 0 8\r\nnew\r\nval\r\n", "STORED\r\n");
        await client.ExpectAsync("delete k3\r\n", "DELETED\r\n");
        keys.Remove("k3");
        await client.ExpectAsync("set ttl 1 3600 3\r\nttl\r\n", "STORED\r\n");
        await client.ExpectAsync("set touched 2 60 3\r\nabc\r\n", "STORED\r\n");
        await client.ExpectAsync("touch touched 86400\r\n", "TOUCHED\r\n");
        await client.ExpectAsync("set gone 0 -1 1\r\nx\r\n", "STORED\r\n");
        await client.ExpectAsync($"ms {BinaryKeyBase64} 3 b F7\r\nbin\r\n", "HD\r\n");
        keys.AddRange(["ttl", "touched"]);
        return keys;
    }

    private static async Task<long> RemainingSecondsAsync(TextClient client, string key)
    {
        await client.SendAsync($"mg {key} t\r\n");
        var line = await client.ReadLineAsync();
        Assert.That(line, Does.StartWith("HD t"), key);
        return long.Parse(line["HD t".Length..]);
    }

    /// <summary>The files that hold records, oldest first: the stream log, or Bitcask's data files.</summary>
    private static List<string> LogFiles(string directory) => Directory.GetFiles(directory)
        .Where(f => Path.GetFileName(f) is "cachelog.bin" || Path.GetFileName(f).StartsWith("data.") && !f.EndsWith(".hint"))
        .OrderBy(f => Path.GetFileName(f) is var name && name.StartsWith("data.") ? int.Parse(name["data.".Length..]) : 0)
        .ToList();

    /// <summary>Every file's name, length and content hash, and the directory's listing.</summary>
    private static string Fingerprint(string directory) => string.Join('\n', Directory.GetFiles(directory)
        .Order(StringComparer.Ordinal)
        .Select(f => $"{Path.GetFileName(f)} {new FileInfo(f).Length} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}"));

    /// <summary>The file's bytes once it exists and its writer has let go of it (it holds it exclusively while writing).</summary>
    private static bool TryReadWhole(string path, out byte[] bytes)
    {
        try
        {
            bytes = File.ReadAllBytes(path);
            return true;
        }
        catch (IOException)
        {
            bytes = [];
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out");
            await Task.Delay(50);
        }
    }
}

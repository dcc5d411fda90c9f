using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// Bitcask keeps each item's CAS unique in its put record: a token a client read before a restart still matches the
/// unchanged item afterwards (after SIGTERM, SIGKILL, or a merge that rewrote the record), and a token of a version
/// that was changed since gets EXISTS.
/// </summary>
[TestFixture]
public sealed class BitcaskCasRestartTests
{
    private static readonly Dictionary<string, string> Bitcask = new()
    {
        ["NEMCACHE_USE_BITCASK"] = "1",
        ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "4096",
    };

    public enum Stop { Sigterm, Sigkill, MergeThenSigterm }

    [TestCase(Stop.Sigterm)]
    [TestCase(Stop.Sigkill)]
    [TestCase(Stop.MergeThenSigterm)]
    public async Task A_token_for_an_unchanged_item_still_matches_after_a_restart(Stop stop)
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            ulong unchanged, touched, changed;
            await using (var server = await ServerProcess.StartAsync(directory, Bitcask))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("set unchanged 0 0 1\r\na\r\nset touched 0 0 1\r\nt\r\nset changed 0 0 1\r\nc\r\n",
                    "STORED\r\nSTORED\r\nSTORED\r\n");
                unchanged = await client.GetsTokenAsync("unchanged");
                touched = await client.GetsTokenAsync("touched");
                changed = await client.GetsTokenAsync("changed");
                await client.ExpectAsync("touch touched 3600\r\nset changed 0 0 1\r\nd\r\n", "TOUCHED\r\nSTORED\r\n");
                // Enough writes to fill several files, so that a merge has something to rewrite.
                var filler = new string('f', 300);
                for (var i = 0; i < 40; i++)
                {
                    await client.ExpectAsync($"set filler 0 0 {filler.Length}\r\n{filler}\r\n", "STORED\r\n");
                }
                switch (stop)
                {
                    case Stop.Sigkill:
                        await server.KillAsync();
                        break;
                    case Stop.MergeThenSigterm:
                        server.SendSignal(ServerProcess.SigUsr1);
                        await WaitForMerge(client, server);
                        Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
                        break;
                    default:
                        Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
                        break;
                }
            }

            await using (var server = await ServerProcess.StartAsync(directory, Bitcask))
            {
                using var client = await server.ConnectAsync();
                Assert.That(await client.GetsTokenAsync("unchanged"), Is.EqualTo(unchanged), server.Output);
                await client.ExpectAsync(
                    $"cas unchanged 0 0 1 {unchanged}\r\nA\r\ncas touched 0 0 1 {touched}\r\nT\r\ncas changed 0 0 1 {changed}\r\nC\r\n",
                    "STORED\r\nSTORED\r\nEXISTS\r\n");
                await client.ExpectAsync("get unchanged touched changed\r\n",
                    "VALUE unchanged 0 1\r\nA\r\nVALUE touched 0 1\r\nT\r\nVALUE changed 0 1\r\nd\r\nEND\r\n");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task WaitForMerge(TextClient client, ServerProcess server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await client.SendAsync("stats\r\n");
            var merged = false;
            for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
            {
                merged |= line.StartsWith("STAT bitcask_merges ", StringComparison.Ordinal) && line != "STAT bitcask_merges 0";
            }
            if (merged)
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail("no merge ran: " + server.Output);
    }
}

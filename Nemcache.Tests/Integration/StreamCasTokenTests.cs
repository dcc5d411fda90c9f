using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// The stream log keeps each item's CAS: after a restart (SIGTERM or SIGKILL, with or without a compaction before it),
/// a token read before it still works for an item that did not change, and one for an item that changed gets EXISTS.
/// </summary>
[TestFixture]
public sealed class StreamCasTokenTests
{
    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public async Task A_pre_restart_token_matches_an_unchanged_item_and_not_a_changed_one(bool kill, bool compactFirst)
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            ulong unchangedToken, changedToken;
            await using (var server = await ServerProcess.StartAsync(directory))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("set unchanged 3 0 4\r\nkeep\r\n", "STORED\r\n");
                await client.ExpectAsync("set changed 0 0 1\r\na\r\n", "STORED\r\n");
                unchangedToken = await client.GetsTokenAsync("unchanged");
                changedToken = await client.GetsTokenAsync("changed");
                await client.ExpectAsync("touch unchanged 600\r\n", "TOUCHED\r\n");
                await client.ExpectAsync("set changed 0 0 1\r\nb\r\n", "STORED\r\n");
                if (compactFirst)
                {
                    server.SendSignal(ServerProcess.SigUsr1);
                    await WaitForOutput(server, "compacted");
                }
                if (kill)
                {
                    await server.KillAsync();
                }
                else
                {
                    Assert.That(await server.TerminateAsync(), Is.EqualTo(0), server.Output);
                }
            }

            await using (var server = await ServerProcess.StartAsync(directory))
            {
                using var client = await server.ConnectAsync();
                Assert.That(await client.GetsTokenAsync("unchanged"), Is.EqualTo(unchangedToken));
                await client.ExpectAsync($"cas changed 0 0 1 {changedToken}\r\nz\r\n", "EXISTS\r\n");
                await client.ExpectAsync($"cas unchanged 0 0 3 {unchangedToken}\r\nnew\r\n", "STORED\r\n");
                await client.ExpectAsync("get unchanged changed\r\n", "VALUE unchanged 0 3\r\nnew\r\nVALUE changed 0 1\r\nb\r\nEND\r\n");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task WaitForOutput(ServerProcess server, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!server.Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"no '{text}' in the output: {server.Output}");
            await Task.Delay(20);
        }
    }
}

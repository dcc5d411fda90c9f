using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// A CAS unique is never handed out again for another version of any item: not after a graceful restart, not after
/// a SIGKILL. A client holding a token from before the restart must not overwrite a change made since.
/// </summary>
[TestFixture]
public sealed class CasAcrossRestartTests
{
    private const int Keys = 20;

    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.Plugins))]
    public async Task A_stale_token_from_before_a_sigterm_restart_gets_exists(Dictionary<string, string> environment) =>
        await StaleTokenAfterRestart(environment, kill: false);

    [TestCaseSource(typeof(ServerModes), nameof(ServerModes.Plugins))]
    public async Task A_stale_token_from_before_a_sigkill_restart_gets_exists(Dictionary<string, string> environment) =>
        await StaleTokenAfterRestart(environment, kill: true);

    private static async Task StaleTokenAfterRestart(Dictionary<string, string> environment, bool kill)
    {
        var directory = ServerProcess.NewDataDirectory();
        try
        {
            var before = new HashSet<ulong>();
            ulong staleToken;
            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync("set k 0 0 1\r\na\r\n", "STORED\r\n");
                staleToken = await client.GetsTokenAsync("k");
                before.Add(staleToken);
                // Another client changes k twice; each of its versions had a token too.
                await client.ExpectAsync("set k 0 0 1\r\nb\r\n", "STORED\r\n");
                before.Add(await client.GetsTokenAsync("k"));
                await client.ExpectAsync("set k 0 0 1\r\nc\r\n", "STORED\r\n");
                before.Add(await client.GetsTokenAsync("k"));
                for (var i = 0; i < Keys; i++)
                {
                    await client.ExpectAsync($"set other{i} 0 0 1\r\nx\r\ndelete other{i}\r\n", "STORED\r\nDELETED\r\n");
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

            await using (var server = await ServerProcess.StartAsync(directory, environment))
            {
                using var client = await server.ConnectAsync();
                await client.ExpectAsync($"cas k 0 0 1 {staleToken}\r\nz\r\n", "EXISTS\r\n");
                await client.ExpectAsync("get k\r\n", "VALUE k 0 1\r\nc\r\nEND\r\n");
                for (var i = 0; i < Keys; i++)
                {
                    await client.ExpectAsync($"set new{i} 0 0 1\r\ny\r\n", "STORED\r\n");
                    var token = await client.GetsTokenAsync($"new{i}");
                    Assert.That(before, Does.Not.Contain(token), $"token {token} was handed out before the restart");
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

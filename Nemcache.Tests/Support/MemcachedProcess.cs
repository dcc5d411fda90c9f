using System.Diagnostics;

namespace Nemcache.Tests.Support;

/// <summary>
/// memcached itself (Debian's package, which test.sh installs), started on a free loopback port with its defaults
/// (-m 64, -I 1m), so that golden tests can send it the same bytes as Nemcache and compare the replies.
/// </summary>
public sealed class MemcachedProcess : IAsyncDisposable
{
    private const string Executable = "/usr/bin/memcached";
    private readonly Process _process;

    private MemcachedProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts memcached and waits until it accepts connections; ignores the test when it is not installed.</summary>
    public static async Task<MemcachedProcess> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            Assert.Ignore($"{Executable} is not installed (test.sh installs Debian's memcached package)");
        }
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-p", port.ToString(), "-U", "0", "-l", "127.0.0.1" })
        {
            start.ArgumentList.Add(argument);
        }
        if (Environment.IsPrivilegedProcess)
        {
            // memcached refuses to run as root without a user to switch to.
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("nobody");
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start memcached");
        var memcached = new MemcachedProcess(process, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var probe = await TextClient.ConnectAsync(port);
                return memcached;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public Task<TextClient> ConnectAsync() => TextClient.ConnectAsync(Port);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

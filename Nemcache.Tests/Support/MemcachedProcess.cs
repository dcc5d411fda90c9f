using System.Diagnostics;
using System.Net.Sockets;

namespace Nemcache.Tests.Support;

/// <summary>
/// memcached 1.6.18 itself (Debian's package; test.sh installs it), on a free loopback port, for tests that check
/// Nemcache's output against the real thing. Without it those tests fail rather than skip.
/// </summary>
public sealed class MemcachedProcess : IAsyncDisposable
{
    private readonly Process _process;

    private MemcachedProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<MemcachedProcess> StartAsync()
    {
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo("memcached") { RedirectStandardOutput = true, RedirectStandardError = true };
        // memcached refuses to run as root unless told which user to be.
        foreach (var argument in new[] { "-l", "127.0.0.1", "-p", port.ToString(), "-U", "0", "-u", Environment.UserName })
        {
            start.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail("memcached is not installed: apt-get install -y memcached (test.sh does this)");
            throw;
        }
        var memcached = new MemcachedProcess(process, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return memcached;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
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

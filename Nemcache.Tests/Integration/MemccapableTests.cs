using System.Diagnostics;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// libmemcached's protocol conformance tool against the real server over TCP. Every test it runs must pass, as they do
/// against memcached 1.6.18. CI installs it (libmemcached-tools); without it these tests fail rather than skip.
/// </summary>
[TestFixture]
public sealed class MemccapableTests
{
    [Test]
    public Task Ascii_protocol_passes_every_memccapable_test() => AssertAllPassAsync("-a");

    [Test]
    public Task Binary_protocol_passes_every_memccapable_test() => AssertAllPassAsync("-b");

    private static async Task AssertAllPassAsync(string mode)
    {
        await using var server = await ServerProcess.StartAsync();
        var (exitCode, output) = await RunMemccapableAsync(server.Port, mode);
        Assert.That(output, Does.Contain("All tests passed"), output);
        Assert.That(output, Does.Not.Contain("[FAIL]"), output);
        Assert.That(exitCode, Is.EqualTo(0), output);
    }

    public static async Task<(int ExitCode, string Output)> RunMemccapableAsync(int port, string mode)
    {
        var start = new ProcessStartInfo("memccapable", ["-h", "127.0.0.1", "-p", port.ToString(), mode]);
        return await ExternalTool.RunAsync(start, "libmemcached-tools");
    }
}

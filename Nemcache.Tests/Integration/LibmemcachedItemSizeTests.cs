using System.Diagnostics;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// libmemcached's own tools (libmemcached-tools, which test.sh installs) against a value over the item size limit:
/// the refusal is memcached's, and the client's next call on the same connection works, as it does against memcached.
/// </summary>
[TestFixture]
public sealed class LibmemcachedItemSizeTests
{
    private ServerProcess _server = null!;
    private string _files = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _server = await ServerProcess.StartAsync();
        _files = ServerProcess.NewDataDirectory();
        Directory.CreateDirectory(_files);
        await File.WriteAllBytesAsync(Path.Combine(_files, "big"), new byte[2 * 1024 * 1024]);
        await File.WriteAllBytesAsync(Path.Combine(_files, "exact"), new byte[1024 * 1024]);
        await File.WriteAllTextAsync(Path.Combine(_files, "small"), "hello");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        Directory.Delete(_files, recursive: true);
    }

    [TestCase(true, TestName = "The_call_after_an_oversized_set_works_on_the_same_connection(binary)")]
    [TestCase(false, TestName = "The_call_after_an_oversized_set_works_on_the_same_connection(text)")]
    public async Task The_call_after_an_oversized_set_works_on_the_same_connection(bool binary)
    {
        string[] protocol = binary ? ["--binary"] : [];
        // memccp sends both files over one connection: the second set is the client's next call.
        var (exitCode, output) = await RunAsync("memccp", [.. protocol, "big", "small"]);
        Assert.That(output, Does.Contain("memcached_set('big'): ITEM TOO BIG"));
        Assert.That(output, Does.Not.Contain("'small'"), "the next set went through");
        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That((await RunAsync("memccat", [.. protocol, "small"])).Output, Is.EqualTo("hello\n"), "memccat prints the value and a newline");
    }

    [Test]
    public async Task A_value_of_exactly_the_item_size_limit_is_refused_as_memcached_refuses_it()
    {
        var (_, output) = await RunAsync("memccp", "--binary", "exact");
        Assert.That(output, Does.Contain("memcached_set('exact'): ITEM TOO BIG"));
        Assert.That((await RunAsync("memcexist", "--binary", "exact")).ExitCode, Is.Not.EqualTo(0), "nothing was stored");
    }

    private async Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool, [$"--servers=127.0.0.1:{_server.Port}", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _files,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{tool} is not installed: apt-get install -y libmemcached-tools (test.sh does this)");
            throw;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await stdout + await stderr);
        }
    }
}

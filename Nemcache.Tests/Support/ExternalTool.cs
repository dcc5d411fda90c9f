using System.Diagnostics;

namespace Nemcache.Tests.Support;

/// <summary>
/// Runs a command-line tool the tests use (libmemcached's tools, PHP, systemd-analyze) and collects what it prints.
/// A tool that is not installed fails the test, naming the Debian package that brings it: test.sh installs them all,
/// so a missing one is a broken set-up, not a reason to skip.
/// </summary>
public static class ExternalTool
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <returns>The exit code, and standard output followed by standard error.</returns>
    public static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo start, string package, TimeSpan? timeout = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{start.FileName} is not installed: apt-get install -y {package} (test.sh does this)");
            throw;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
            await process.WaitForExitAsync(deadline.Token);
            return (process.ExitCode, await stdout + await stderr);
        }
    }
}

using System.Diagnostics;

namespace Nemcache.Tests.Support;

/// <summary>The real nemcache-data executable, run from the test's output folder (`dotnet nemcache-data.dll`).</summary>
public static class DataToolProcess
{
    public static string Assembly => Path.Combine(AppContext.BaseDirectory, "nemcache-data.dll");

    /// <summary>Runs it to the end; stdout is kept as bytes, since a dump carries values byte for byte.</summary>
    public static Task<(int ExitCode, byte[] Output, string Errors)> RunAsync(params string[] arguments) =>
        RunCommandAsync(["dotnet", Assembly, .. arguments]);

    /// <summary>Runs it as another user (root only: through runuser), for a directory that user may only read.</summary>
    public static Task<(int ExitCode, byte[] Output, string Errors)> RunAsUserAsync(string user, params string[] arguments) =>
        RunCommandAsync(["runuser", "-u", user, "--", "env", "DOTNET_CLI_HOME=/tmp", "dotnet", Assembly, .. arguments]);

    private static async Task<(int ExitCode, byte[] Output, string Errors)> RunCommandAsync(string[] command)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        using var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        await copy;
        return (process.ExitCode, output.ToArray(), await errors);
    }

    /// <summary>Runs it and returns its stdout as text, for verify and stats.</summary>
    public static async Task<(int ExitCode, string Output)> RunForTextAsync(params string[] arguments)
    {
        var (exitCode, output, errors) = await RunAsync(arguments);
        return (exitCode, System.Text.Encoding.UTF8.GetString(output) + errors);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Nemcache.Tests.Support;

/// <summary>
/// The real server, started as a child process from the test's output folder (`dotnet Nemcache.Service.dll`) on a free
/// port and its own data directory, so that tests talk TCP to it and can stop it with SIGTERM or SIGKILL.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly bool _ownsDataDirectory;

    private ServerProcess(Process process, int port, string dataDirectory, bool ownsDataDirectory)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
    }

    public int Port { get; }
    public string DataDirectory { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the server printed so far, stdout and stderr interleaved.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static string ServiceAssembly => Path.Combine(AppContext.BaseDirectory, "Nemcache.Service.dll");

    public static string NewDataDirectory() =>
        Path.Combine(Path.GetTempPath(), "nemcache-tests", Guid.NewGuid().ToString("N"));

    /// <summary>Starts a server and waits until it accepts connections.</summary>
    /// <param name="dataDirectory">Reuse a data directory (a restart); by default a fresh one, deleted on dispose.</param>
    public static async Task<ServerProcess> StartAsync(string? dataDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, params string[] arguments)
    {
        var port = FreePort();
        var ownsDirectory = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        var process = Launch(["--port", port.ToString(), "--data-dir", dataDirectory, .. arguments], environment);
        var server = new ServerProcess(process, port, dataDirectory, ownsDirectory);
        server.CaptureOutput();
        await server.WaitUntilListeningAsync();
        return server;
    }

    /// <summary>Starts a server on a data directory without waiting for it to listen: for a test that kills it while it
    /// is still starting.</summary>
    public static ServerProcess Spawn(string dataDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var process = Launch(["--port", port.ToString(), "--data-dir", dataDirectory], environment);
        var server = new ServerProcess(process, port, dataDirectory, ownsDataDirectory: false);
        server.CaptureOutput();
        return server;
    }

    /// <summary>Runs the server with arguments that should stop it at startup; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(IReadOnlyDictionary<string, string>? environment,
        params string[] arguments)
    {
        using var process = Launch(arguments, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the server did not exit: " + string.Join(' ', arguments));
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>SIGTERM: the graceful shutdown path. Returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        SendSignal(SigTerm);
        return await WaitForExitAsync();
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public async Task KillAsync()
    {
        SendSignal(SigKill);
        await WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public Task<TextClient> ConnectAsync() => TextClient.ConnectAsync(Port);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_ownsDataDirectory && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static Process Launch(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServiceAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("NEMCACHE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        return Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
    }

    private void CaptureOutput()
    {
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private async Task WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {_process.ExitCode} at startup:\n{Output}");
            }
            // The listening line is logged after the bind; waiting for it rather than connecting leaves the connection
            // count untouched for tests that measure it.
            if (Output.Contains(" listening: ", StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"the server did not listen within {StartTimeout}:\n{Output}");
    }

    private const int SigKill = 9;
    private const int SigTerm = 15;
    public const int SigUsr1 = 10;

    public void SendSignal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

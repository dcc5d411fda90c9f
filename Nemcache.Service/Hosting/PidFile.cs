using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;

namespace Nemcache.Service.Hosting;

/// <summary>
/// -P: writes the process id to the file once the server listens (it is registered after the listener), so a supervisor
/// that reads it finds a server that accepts connections, and removes it once every service has stopped, after the
/// final flush. The id goes to a
/// temporary file first and is renamed into place, so that a reader never sees a half-written file. A pid file that
/// cannot be written stops startup: a supervisor relying on it would otherwise lose track of the server.
/// </summary>
internal sealed class PidFile(ServerSettings settings, ILogger<PidFile> logger) : IHostedLifecycleService
{
    private const string TemporarySuffix = ".tmp";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.PidFile is not { } path)
        {
            return Task.CompletedTask;
        }
        try
        {
            var temporary = path + TemporarySuffix;
            File.WriteAllText(temporary, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"{SettingNames.Describe(SettingNames.PidFile)}: cannot write {path}: {ex.Message}");
        }
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (settings.PidFile is not { } path)
        {
            return Task.CompletedTask;
        }
        try
        {
            // Only our own: a second server started on the same -P has taken the file over.
            if (File.Exists(path) && File.ReadAllText(path).Trim() == Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
            {
                File.Delete(path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not remove the pid file {Path}: {Message}", path, ex.Message);
        }
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

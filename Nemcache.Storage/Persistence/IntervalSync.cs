using Microsoft.Extensions.Logging;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// The <see cref="SyncMode.Interval"/> promise for both plugins: every interval, what was written since the last fsync
/// is fsynced through the plugin's <see cref="GroupSync"/>, so a commit waiting for the same fsync shares it.
/// <para>
/// A tick while the previous tick's fsync still runs does nothing, so that a slow disk does not pile up fsync rounds.
/// A tick while <see cref="GroupSync.Failures"/> holds a failure does nothing either: group commit refuses then, and
/// the plugin's repair fsyncs what it writes (<see cref="FailureLatch"/>). A failed fsync is recorded in that latch by
/// the group sync itself; here it is only logged, when a logger is given.
/// </para>
/// </summary>
public sealed class IntervalSync : IDisposable, IAsyncDisposable
{
    private readonly GroupSync _groupSync;
    private readonly ILogger? _logger;
    private readonly Lock _gate = new();
    private readonly ITimer _timer;
    private Task _running = Task.CompletedTask;
    private bool _stopped;

    /// <param name="groupSync">The plugin's group commit, which runs the fsync.</param>
    /// <param name="interval">NEMCACHE_SYNC_INTERVAL_MS.</param>
    /// <param name="time">Whose timer ticks; the system clock's without one.</param>
    /// <param name="logger">Where a failed interval fsync is logged; without one the plugin's latch alone tells of it.</param>
    public IntervalSync(GroupSync groupSync, TimeSpan interval, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _groupSync = groupSync;
        _logger = logger;
        _timer = (time ?? TimeProvider.System).CreateTimer(static self => ((IntervalSync)self!).Tick(), this, interval, interval);
    }

    private void Tick()
    {
        if (!_groupSync.HasUnsynced || _groupSync.Failures.Current is not null)
        {
            return;
        }
        lock (_gate)
        {
            if (!_stopped && _running.IsCompleted)
            {
                _running = SyncLoggingFailureAsync();
            }
        }
    }

    private async Task SyncLoggingFailureAsync()
    {
        try
        {
            await _groupSync.SyncAsync();
        }
        catch (PersistenceException ex)
        {
            _logger?.LogError(ex, "Interval fsync failed");
        }
    }

    /// <summary>Stops the timer, and returns the fsync a tick started, if one still runs; it never faults.</summary>
    private Task Stop()
    {
        lock (_gate)
        {
            _stopped = true;
        }
        _timer.Dispose();
        lock (_gate)
        {
            return _running;
        }
    }

    /// <summary>Stops the timer and waits for a running interval fsync, so that the plugin may close its files next.</summary>
    public void Dispose() => Stop().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    public async ValueTask DisposeAsync() => await Stop();
}

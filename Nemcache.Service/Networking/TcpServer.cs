using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Networking;

/// <summary>
/// The listener: accepts connections up to the limit (refusing the next one the way memcached does, with
/// "ERROR Too many open connections") and runs each one. At shutdown it stops accepting and waits for the open
/// connections to finish the batch they are running, for at most <see cref="DrainGrace"/>; then it resets those left.
/// Each connection's protocol comes from <paramref name="processors"/>: the listener knows none.
/// </summary>
internal sealed class TcpServer(ServerSettings settings, ServerStatistics statistics, ICachePersistence? persistence,
    IProtocolProcessorFactory processors, ILogger<TcpServer> logger) : IHostedService
{
    /// <summary>
    /// How long shutdown waits for open connections to send their last replies. A client that does not read them would
    /// otherwise hold the process until the host gives up (its 15-second shutdown timeout) without persistence being
    /// flushed; this leaves most of that time for the flush.
    /// </summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    /// <summary>memcached's line to a connection over the limit, whatever protocol it was going to speak.</summary>
    private static ReadOnlySpan<byte> TooManyConnections => "ERROR Too many open connections\r\n"u8;

    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private long _nextConnectionId;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var endPoint in settings.ListenEndPoints)
        {
            var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    // IPv6 only, as memcached binds it, so that -l 0.0.0.0,:: or -l '*' can take both families' port.
                    listener.DualMode = false;
                }
                listener.Bind(endPoint);
                listener.Listen(settings.ListenBacklog);
            }
            catch (SocketException ex)
            {
                listener.Dispose();
                CloseListeners();
                throw new StartupException($"cannot listen on {endPoint}: {ex.Message}");
            }
            _listeners.Add(listener);
        }
        foreach (var listener in _listeners)
        {
            statistics.Connections.AddListener(listener);
        }
        _acceptLoops.AddRange(_listeners.Select(AcceptLoopAsync));
        logger.LogInformation("Nemcache {Version} listening: {Settings}", BuildInfo.ProtocolVersion, settings.Describe());
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        CloseListeners();
        await Task.WhenAll(_acceptLoops);
        var open = _connections.Values.ToArray();
        if (open.Length == 0)
        {
            return;
        }
        logger.LogInformation("Waiting for {Count} connections to finish", open.Length);
        var finished = Task.WhenAll(open);
        if (await Task.WhenAny(finished, Task.Delay(DrainGrace, cancellationToken)) != finished)
        {
            var left = open.Count(connection => !connection.IsCompleted);
            logger.LogWarning("Resetting {Count} connections that did not take their replies within {Grace} s", left,
                DrainGrace.TotalSeconds);
            await _aborting.CancelAsync();
            try
            {
                await finished.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // A connection still committing to a disk that does not answer: stopping persistence next is all
                // that is left to do.
                logger.LogWarning("Stopping with {Count} connections still open", open.Count(c => !c.IsCompleted));
            }
        }
    }

    private void CloseListeners()
    {
        foreach (var listener in _listeners)
        {
            statistics.Connections.Remove(listener);
            listener.Dispose();
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                logger.LogWarning("Accept failed: {Message}", ex.Message);
                continue;
            }

            client.NoDelay = true;
            if (!statistics.TryOpenConnection(settings.ConnectionLimit))
            {
                Refuse(client);
                continue;
            }
            var id = Interlocked.Increment(ref _nextConnectionId);
            var connection = new ClientConnection(client, processors, persistence, statistics, logger);
            statistics.Connections.AddClient(client);
            var run = Task.Run(async () =>
            {
                try
                {
                    await connection.RunAsync(_stopping.Token, _aborting.Token);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Connection {Id} failed", id);
                }
                finally
                {
                    statistics.Connections.Remove(client);
                }
            });
            _connections[id] = run;
            // Removed by a continuation registered only once the entry exists: a connection that ends at once must
            // not leave its entry behind.
            _ = run.ContinueWith(done => _connections.TryRemove(KeyValuePair.Create(id, done)), TaskScheduler.Default);
        }
    }

    private void Refuse(Socket client)
    {
        try
        {
            client.Send(TooManyConnections);
        }
        catch (SocketException)
        {
            // A client refused before it could be told so has been refused all the same.
        }
        finally
        {
            client.Dispose();
        }
        logger.LogDebug("Refused a connection: {Limit} connections are open (-c)", settings.ConnectionLimit);
    }
}

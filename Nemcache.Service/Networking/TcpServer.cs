using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service.Hosting;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Text;

namespace Nemcache.Service.Networking;

/// <summary>
/// The listener: accepts connections up to the limit (refusing the next one the way memcached does, with
/// "ERROR Too many open connections") and runs each one. At shutdown it stops accepting and waits for the open
/// connections to finish the batch they are running.
/// </summary>
internal sealed class TcpServer(ServerContext context, ILogger<TcpServer> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private long _nextConnectionId;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = context.Settings;
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
        _acceptLoops.AddRange(_listeners.Select(AcceptLoopAsync));
        logger.LogInformation("Nemcache {Version} listening: {Settings}", ServerContext.Version, settings.Describe());
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        CloseListeners();
        await Task.WhenAll(_acceptLoops);
        var open = _connections.Values.ToArray();
        if (open.Length > 0)
        {
            logger.LogInformation("Waiting for {Count} connections to finish", open.Length);
            await Task.WhenAll(open).WaitAsync(cancellationToken);
        }
    }

    private void CloseListeners()
    {
        foreach (var listener in _listeners)
        {
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
            if (!context.Statistics.TryOpenConnection(context.Settings.ConnectionLimit))
            {
                Refuse(client);
                continue;
            }
            var id = Interlocked.Increment(ref _nextConnectionId);
            var connection = new ClientConnection(client, context, logger);
            _connections[id] = Task.Run(async () =>
            {
                try
                {
                    await connection.RunAsync(_stopping.Token);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Connection {Id} failed", id);
                }
                finally
                {
                    _connections.TryRemove(id, out _);
                }
            });
        }
    }

    private void Refuse(Socket client)
    {
        try
        {
            client.Send(TextReplies.TooManyConnections);
        }
        catch (SocketException)
        {
            // A client refused before it could be told so has been refused all the same.
        }
        finally
        {
            client.Dispose();
        }
        logger.LogDebug("Refused a connection: {Limit} connections are open (-c)", context.Settings.ConnectionLimit);
    }
}

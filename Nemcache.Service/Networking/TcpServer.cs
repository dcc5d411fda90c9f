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
/// connections to finish the batch they are running, for at most <see cref="DrainGrace"/>; then it resets those left.
/// </summary>
internal sealed class TcpServer(ServerContext context, ILogger<TcpServer> logger) : IHostedService
{
    /// <summary>memcached's default -b (tcp_backlog).</summary>
    internal const int Backlog = 1024;

    /// <summary>
    /// How long shutdown waits for open connections to send their last replies. A client that does not read them would
    /// otherwise hold the process until the host gives up (its 15-second shutdown timeout) without persistence being
    /// flushed; this leaves most of that time for the flush.
    /// </summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _nextConnectionId;

    /// <summary>The endpoint actually bound; tests read the port from here.</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var endPoint = new IPEndPoint(settings.Listen, settings.Port);
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(Backlog);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw new StartupException($"cannot listen on {endPoint}: {ex.Message}");
        }
        _listener = listener;
        context.Statistics.Connections.AddListener(listener);
        _acceptLoop = AcceptLoopAsync(listener);
        logger.LogInformation("Nemcache {Version} listening: {Settings}", ServerContext.Version, settings.Describe());
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_listener is not null)
        {
            context.Statistics.Connections.Remove(_listener);
            _listener.Dispose();
        }
        await _acceptLoop;
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
            context.Statistics.Connections.AddClient(client);
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
                    context.Statistics.Connections.Remove(client);
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

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Nemcache.Service.Networking;

/// <summary>The open sockets, listeners and clients, for `stats conns`: their addresses and when each last ran a command.</summary>
public sealed class ConnectionTable
{
    private readonly ConcurrentDictionary<Socket, OpenSocket> _open = new();

    public void AddListener(Socket listener) => _open[listener] = new OpenSocket(listener, isListener: true);

    public void AddClient(Socket client) => _open[client] = new OpenSocket(client, isListener: false);

    public void Remove(Socket socket) => _open.TryRemove(socket, out _);

    /// <summary>A client's batch of commands is starting (<paramref name="running"/>) or done.</summary>
    public void MarkRunning(Socket client, bool running)
    {
        if (_open.TryGetValue(client, out var open))
        {
            open.MarkRunning(running);
        }
    }

    /// <summary>Every open socket, by file descriptor, as memcached lists them.</summary>
    public IReadOnlyList<OpenSocket> Snapshot() => _open.Values.OrderBy(s => s.Descriptor).ToList();
}

/// <summary>One socket in the <see cref="ConnectionTable"/>. Its addresses are read once: a closed socket has none.</summary>
public sealed class OpenSocket
{
    private long _lastCommandTicks = Environment.TickCount64;
    private int _running;

    internal OpenSocket(Socket socket, bool isListener)
    {
        IsListener = isListener;
        Descriptor = socket.SafeHandle.DangerousGetHandle().ToInt64();
        LocalEndPoint = socket.LocalEndPoint as IPEndPoint;
        RemoteEndPoint = isListener ? null : socket.RemoteEndPoint as IPEndPoint;
    }

    public bool IsListener { get; }
    public long Descriptor { get; }
    public IPEndPoint? LocalEndPoint { get; }
    public IPEndPoint? RemoteEndPoint { get; }
    public bool IsRunning => Volatile.Read(ref _running) == 1;
    public long SecondsSinceLastCommand => (Environment.TickCount64 - Volatile.Read(ref _lastCommandTicks)) / 1000;

    internal void MarkRunning(bool running)
    {
        Volatile.Write(ref _running, running ? 1 : 0);
        if (running)
        {
            Volatile.Write(ref _lastCommandTicks, Environment.TickCount64);
        }
    }
}

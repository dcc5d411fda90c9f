namespace Nemcache.Service.Networking;

/// <summary>Server-wide counters that are not the cache's: connections and bytes on the wire.</summary>
public sealed class ServerStatistics
{
    private long _current;
    private long _total;
    private long _rejected;
    private long _bytesRead;
    private long _bytesWritten;

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public ConnectionTable Connections { get; } = new();
    public long CurrentConnections => Volatile.Read(ref _current);
    public long TotalConnections => Volatile.Read(ref _total);
    public long RejectedConnections => Volatile.Read(ref _rejected);
    public long BytesRead => Volatile.Read(ref _bytesRead);
    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>Claims a connection slot; false when <paramref name="limit"/> connections are already open.</summary>
    public bool TryOpenConnection(int limit)
    {
        while (true)
        {
            var current = Volatile.Read(ref _current);
            if (current >= limit)
            {
                Interlocked.Increment(ref _rejected);
                return false;
            }
            if (Interlocked.CompareExchange(ref _current, current + 1, current) == current)
            {
                Interlocked.Increment(ref _total);
                return true;
            }
        }
    }

    public void CloseConnection() => Interlocked.Decrement(ref _current);

    public void AddBytesRead(long count) => Interlocked.Add(ref _bytesRead, count);

    public void AddBytesWritten(long count) => Interlocked.Add(ref _bytesWritten, count);
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace Nemcache.LoadGenerator;

/// <summary>
/// One client connection. Requests go out in order and replies come back in order, so a FIFO of what was sent, with
/// the time each request was due, tells which request a reply answers. The latency recorded is from the time the
/// request was due, not from when it went out: a server that falls behind cannot hide its slow replies by delaying the
/// requests behind them (coordinated omission).
/// </summary>
internal sealed class LoadConnection : IDisposable
{
    private const int ReceiveBufferBytes = 256 * 1024;

    private readonly Socket _socket;
    private readonly ConcurrentQueue<(long Due, bool IsGet)> _pending = new();
    private readonly long _recordFrom;
    private byte[] _buffer = new byte[ReceiveBufferBytes];
    private int _start;
    private int _end;

    private LoadConnection(Socket socket, long recordFrom, long highestTrackableMicroseconds)
    {
        _socket = socket;
        _recordFrom = recordFrom;
        Histogram = new LongHistogram(highestTrackableMicroseconds, 3);
    }

    /// <summary>Latencies in microseconds of the replies to requests due after the warm-up.</summary>
    public LongHistogram Histogram { get; }

    public long Completed { get; private set; }

    public long Errors { get; private set; }

    public int Outstanding => _pending.Count;

    /// <summary>Where every reply's latency also goes, by the second it was due, if anywhere (warm-up included).</summary>
    public LatencyTimeline? Timeline { get; set; }

    /// <summary>Called with each reply's due time when the connection runs closed loop: it sends the next request.</summary>
    public Action<LoadConnection>? OnReply { get; set; }

    public static async Task<LoadConnection> OpenAsync(int port, long recordFrom, long highestTrackableMicroseconds)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return new LoadConnection(socket, recordFrom, highestTrackableMicroseconds);
    }

    /// <summary>Sends one request that was due at <paramref name="due"/> (Stopwatch ticks).</summary>
    public void Send(byte[] request, bool isGet, long due)
    {
        _pending.Enqueue((due, isGet));
        var sent = 0;
        while (sent < request.Length)
        {
            sent += _socket.Send(request, sent, request.Length - sent, SocketFlags.None);
        }
    }

    /// <summary>Reads and matches replies until the connection closes or <paramref name="stop"/> fires.</summary>
    public async Task ReceiveAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (_end == _buffer.Length)
                {
                    Compact();
                }
                var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, stop);
                if (read == 0)
                {
                    return;
                }
                _end += read;
                while (TryTakeReply())
                {
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Matches the reply at the front of the buffer with the oldest pending request, if it has all arrived.</summary>
    private bool TryTakeReply()
    {
        if (!_pending.TryPeek(out var request))
        {
            return false;
        }
        var data = _buffer.AsSpan(_start, _end - _start);
        var lineEnd = data.IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            return false;
        }
        var line = data[..lineEnd];
        var length = lineEnd + 2;
        var failed = false;
        if (request.IsGet && line.StartsWith("VALUE "u8))
        {
            var bytes = int.Parse(line[(line.LastIndexOf((byte)' ') + 1)..]);
            length += bytes + 2 + "END\r\n"u8.Length;
            if (data.Length < length)
            {
                if (length > _buffer.Length)
                {
                    Array.Resize(ref _buffer, length * 2);
                }
                return false;
            }
        }
        else
        {
            failed = !(request.IsGet ? line.SequenceEqual("END"u8) : line.SequenceEqual("STORED"u8));
        }
        _start += length;
        _pending.TryDequeue(out _);
        var now = Stopwatch.GetTimestamp();
        Completed++;
        if (failed)
        {
            Errors++;
        }
        var microseconds = Math.Max(1, (now - request.Due) * 1_000_000 / Stopwatch.Frequency);
        if (request.Due >= _recordFrom)
        {
            Histogram.RecordValue(microseconds);
        }
        Timeline?.Record(request.Due, microseconds);
        OnReply?.Invoke(this);
        return true;
    }

    private void Compact()
    {
        var used = _end - _start;
        Buffer.BlockCopy(_buffer, _start, _buffer, 0, used);
        _start = 0;
        _end = used;
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }

    public void Dispose() => _socket.Dispose();
}

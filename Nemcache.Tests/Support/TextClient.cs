using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Nemcache.Tests.Support;

/// <summary>A raw TCP client for protocol tests: sends bytes exactly as given and reads replies byte for byte.</summary>
public sealed class TextClient : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private TextClient(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<TextClient> ConnectAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port);
        return new TextClient(client);
    }

    public Task SendAsync(string ascii) => SendAsync(Encoding.Latin1.GetBytes(ascii));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Half-closes the connection: the server sees the end of the input, as after a truncated request.</summary>
    public void EndSending() => _client.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Reads exactly <paramref name="count"/> bytes; fails with what did arrive if they do not.</summary>
    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var timeout = new CancellationTokenSource(ReadTimeout);
        try
        {
            while (read < count)
            {
                var n = await _stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
        }
        catch (OperationCanceledException)
        {
        }
        if (read < count)
        {
            throw new AssertionException($"expected {count} bytes, got {read}: '{Printable(buffer.AsSpan(0, read))}'");
        }
        return buffer;
    }

    /// <summary>Sends a request and asserts that the reply is exactly <paramref name="expected"/>, and nothing more.</summary>
    public async Task ExpectAsync(string request, string expected)
    {
        await SendAsync(request);
        await ExpectReplyAsync(expected);
    }

    /// <summary>As <see cref="ExpectAsync"/>, and nothing more arrives shortly after: the golden exchanges' check.</summary>
    public async Task ExpectOnlyAsync(string request, string expected)
    {
        await ExpectAsync(request, expected);
        Assert.That(await IsSilentAsync(TimeSpan.FromMilliseconds(100)), Is.True, "no reply beyond the expected one");
    }

    public async Task ExpectReplyAsync(string expected)
    {
        var reply = await ReadExactlyAsync(Encoding.Latin1.GetByteCount(expected));
        Assert.That(Printable(reply), Is.EqualTo(Printable(Encoding.Latin1.GetBytes(expected))));
    }

    public async Task<string> ReadLineAsync()
    {
        var line = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(ReadTimeout);
        while (!(line.Count >= 2 && line[^2] == '\r' && line[^1] == '\n'))
        {
            if (await _stream.ReadAsync(one, timeout.Token) == 0)
            {
                throw new AssertionException($"connection closed after '{Printable(line.ToArray())}'");
            }
            line.Add(one[0]);
        }
        return Encoding.Latin1.GetString(line.ToArray(), 0, line.Count - 2);
    }

    /// <summary>Sends a multi-key get and returns what it found: key → (flags, value).</summary>
    public async Task<Dictionary<string, (uint Flags, string Value)>> GetManyAsync(IEnumerable<string> keys)
    {
        await SendAsync($"get {string.Join(' ', keys)}\r\n");
        var found = new Dictionary<string, (uint, string)>();
        while (await ReadLineAsync() is var line && line != "END")
        {
            var parts = line.Split(' ');
            if (parts is not ["VALUE", var key, var flags, var length])
            {
                throw new AssertionException($"unexpected line in a get reply: '{line}'");
            }
            var data = await ReadExactlyAsync(int.Parse(length) + 2);
            found[key] = (uint.Parse(flags), Encoding.Latin1.GetString(data, 0, data.Length - 2));
        }
        return found;
    }

    /// <summary>Sends <c>gets</c> for one key that must be there and returns its CAS unique.</summary>
    public async Task<ulong> GetsTokenAsync(string key)
    {
        await SendAsync($"gets {key}\r\n");
        var header = await ReadLineAsync();
        if (header.Split(' ') is not ["VALUE", _, _, var length, var cas])
        {
            throw new AssertionException($"unexpected gets reply: '{header}'");
        }
        await ReadExactlyAsync(int.Parse(length) + 2);
        Assert.That(await ReadLineAsync(), Is.EqualTo("END"));
        return ulong.Parse(cas);
    }

    /// <summary>True when the server closes the connection within the timeout (after any bytes it still sends).</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan within)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (true)
            {
                if (await _stream.ReadAsync(buffer, timeout.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>True when nothing arrives within <paramref name="quiet"/>: used to show that noreply sent nothing.</summary>
    public async Task<bool> IsSilentAsync(TimeSpan quiet)
    {
        var buffer = new byte[1];
        using var timeout = new CancellationTokenSource(quiet);
        try
        {
            return await _stream.ReadAsync(buffer, timeout.Token) == 0;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes)
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                < 32 or > 126 => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }
        return text.ToString();
    }

    public void Dispose()
    {
        _stream.Dispose();
        _client.Dispose();
    }
}

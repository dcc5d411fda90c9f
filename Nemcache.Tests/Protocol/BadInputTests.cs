using System.Net.Sockets;
using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// Hostile and broken input over TCP: the server answers as memcached does or closes that one connection, never
/// crashes, never stores anything partial, and other connections keep working throughout.
/// </summary>
[TestFixture]
public sealed class BadInputTests
{
    private ServerProcess _server = null!;
    private TextClient _bystander = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync();
        _bystander = await _server.ConnectAsync();
        await _bystander.ExpectAsync("set bystander 3 0 5\r\nhello\r\n", "STORED\r\n");
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _bystander.Dispose();
        await _server.DisposeAsync();
    }

    [TearDown]
    public async Task BystanderStillServed()
    {
        Assert.That(_server.HasExited, Is.False, _server.Output);
        await _bystander.ExpectAsync("get bystander\r\n", "VALUE bystander 3 5\r\nhello\r\nEND\r\n");
    }

    [Test]
    public async Task Line_over_16_KiB_without_newline_closes_only_that_connection()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync(new string('x', 20_000));
        Assert.That(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task Retrieval_line_may_be_longer_than_16_KiB()
    {
        using var client = await _server.ConnectAsync();
        var keys = string.Join(' ', Enumerable.Range(0, 3000).Select(i => $"missing-key-{i}"));
        await client.ExpectAsync($"get bystander {keys}\r\n", "VALUE bystander 3 5\r\nhello\r\nEND\r\n");
    }

    [Test]
    public async Task Random_binary_garbage_never_crashes_the_server()
    {
        var random = new Random(20261121);
        for (var round = 0; round < 20; round++)
        {
            using var client = await _server.ConnectAsync();
            var junk = new byte[random.Next(1, 4096)];
            random.NextBytes(junk);
            junk[0] = (byte)'j'; // binary protocol starts with 0x80; this test is about text framing
            await client.SendAsync(junk);
            await client.SendAsync("\r\nversion\r\n");
            await client.IsClosedByServerAsync(TimeSpan.FromMilliseconds(200));
        }
    }

    [Test]
    public async Task Partial_data_block_then_disconnect_stores_nothing()
    {
        using (var client = await _server.ConnectAsync())
        {
            await client.SendAsync("set partial 0 0 100\r\n" + new string('p', 50));
        }
        await Task.Delay(200);
        using var check = await _server.ConnectAsync();
        await check.ExpectAsync("get partial\r\n", "END\r\n");
    }

    [Test]
    public async Task Data_block_split_across_many_writes_is_assembled()
    {
        using var client = await _server.ConnectAsync();
        var request = "set split 9 0 26\r\nabcdefghijklmnopqrstuvwxyz\r\nget split\r\n";
        foreach (var piece in request.Chunk(3))
        {
            await client.SendAsync(new string(piece));
            await Task.Delay(2);
        }
        await client.ExpectReplyAsync("STORED\r\nVALUE split 9 26\r\nabcdefghijklmnopqrstuvwxyz\r\nEND\r\n");
    }

    [Test]
    public async Task Thousands_of_pipelined_commands_are_answered_in_order()
    {
        using var client = await _server.ConnectAsync();
        var request = new System.Text.StringBuilder();
        var expected = new System.Text.StringBuilder();
        for (var i = 0; i < 5000; i++)
        {
            request.Append($"set pipe{i} {i} 0 {i.ToString().Length}\r\n{i}\r\nget pipe{i}\r\n");
            expected.Append($"STORED\r\nVALUE pipe{i} {i} {i.ToString().Length}\r\n{i}\r\nEND\r\n");
        }
        await client.ExpectAsync(request.ToString(), expected.ToString());
    }

    [Test]
    public async Task Declared_length_beyond_int_is_a_client_error()
    {
        using var client = await _server.ConnectAsync();
        await client.ExpectAsync("set huge 0 0 2147483648\r\nversion\r\n", $"CLIENT_ERROR bad command line format\r\nVERSION {ServerContext.Version}\r\n");
    }

    [Test]
    public async Task Connection_reset_mid_command_leaves_the_server_serving()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, _server.Port);
        await socket.SendAsync("set reset 0 0 10\r\nabc"u8.ToArray());
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
        await Task.Delay(100);
        using var check = await _server.ConnectAsync();
        await check.ExpectAsync("get reset\r\n", "END\r\n");
    }
}

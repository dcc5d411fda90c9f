using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// Clients that do not read their replies: small requests with large replies must not make the server hold the
/// replies (docs/reliability.md, "Reply backlog"), and shutdown must not wait on such a client for ever.
/// </summary>
[TestFixture]
public sealed class ReplyBacklogTests
{
    private const int ValueBytes = 1_000_000;
    private const int Requests = 100;

    /// <summary>
    /// What the server may grow by while five clients hold 100 MB of replies each unread: a connection holds at most
    /// <see cref="ReplyBacklog.PauseAtBytes"/> plus one reply; the rest is the runtime's pools and the collector's slack.
    /// </summary>
    private const long PeakAboveIdleKiB = 32 * 1024;

    private static readonly byte[] Value = Enumerable.Range(0, ValueBytes).Select(i => (byte)('a' + i % 26)).ToArray();

    [Test]
    public async Task Clients_that_do_not_read_their_replies_cannot_pin_memory_and_get_every_reply_once_they_read()
    {
        await using var server = await ServerProcess.StartAsync();
        using (var writer = await server.ConnectAsync())
        {
            await writer.SendAsync([.. Encoding.ASCII.GetBytes($"set b 0 0 {ValueBytes}\r\n"), .. Value, .. "\r\n"u8]);
            await writer.ExpectReplyAsync("STORED\r\n");
            await ExpectValuesAsync(writer, "get b\r\n", 1, 4);
        }
        var idle = ResidentKiB(server.ProcessId);

        var keys = string.Join(' ', Enumerable.Repeat("b", Requests));
        var scenarios = new (string Name, byte[] Request, Func<TextClient, Task> ReadReplies)[]
        {
            ("get b b …", Encoding.ASCII.GetBytes($"get {keys}\r\n"), c => ExpectValuesAsync(c, null, Requests, 4)),
            ("gats 0 b b …", Encoding.ASCII.GetBytes($"gats 0 {keys}\r\n"), c => ExpectValuesAsync(c, null, Requests, 5)),
            ("pipelined get b", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("get b\r\n", Requests))), ExpectPipelinedGetsAsync),
            ("pipelined mg b v", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("mg b v\r\n", Requests)) + "mn\r\n"), ExpectMetaGetsAsync),
            ("pipelined binary getkq", [.. Enumerable.Range(0, Requests).SelectMany(i => BinaryPacket.Request(BinaryPacket.GetKQ, "b", opaque: (uint)i)),
                .. BinaryPacket.Request(BinaryPacket.Noop)], ExpectBinaryGetsAsync),
        };
        var clients = new List<TextClient>();
        try
        {
            foreach (var (_, request, _) in scenarios)
            {
                var client = await server.ConnectAsync();
                clients.Add(client);
                await client.SendAsync(request);
            }
            var peak = idle;
            for (var watch = Stopwatch.StartNew(); watch.Elapsed < TimeSpan.FromSeconds(1.5);)
            {
                peak = Math.Max(peak, ResidentKiB(server.ProcessId));
                await Task.Delay(20);
            }
            Assert.That(peak - idle, Is.LessThan(PeakAboveIdleKiB),
                $"RSS went from {idle / 1024} MB to {peak / 1024} MB while 500 MB of replies waited unread");

            for (var i = 0; i < scenarios.Length; i++)
            {
                await scenarios[i].ReadReplies(clients[i]);
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Test]
    public async Task Sigterm_resets_a_client_that_does_not_read_after_the_grace_flushes_persistence_and_exits_0()
    {
        var dataDirectory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var server = await ServerProcess.StartAsync(dataDirectory))
            {
                using var writer = await server.ConnectAsync();
                await writer.SendAsync([.. Encoding.ASCII.GetBytes($"set b 0 0 {ValueBytes}\r\n"), .. Value, .. "\r\n"u8]);
                await writer.ExpectReplyAsync("STORED\r\n");
                await writer.ExpectAsync("set kept 0 0 4\r\nsafe\r\n", "STORED\r\n");
                using var stalled = await server.ConnectAsync();
                await stalled.SendAsync($"get {string.Join(' ', Enumerable.Repeat("b", Requests))}\r\n");
                await Task.Delay(300);

                var watch = Stopwatch.StartNew();
                var exitCode = await server.TerminateAsync();

                Assert.That(exitCode, Is.EqualTo(0), server.Output);
                Assert.That(watch.Elapsed, Is.LessThan(TcpServer.DrainGrace + TimeSpan.FromSeconds(5)), server.Output);
                Assert.That(server.Output, Does.Contain("flushed and closed").And.Not.Contain("Exception"));
            }
            await using var restarted = await ServerProcess.StartAsync(dataDirectory);
            using var reader = await restarted.ConnectAsync();
            await reader.ExpectAsync("get kept\r\n", "VALUE kept 0 4\r\nsafe\r\nEND\r\n");
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Test]
    public void A_retrieval_paused_between_keys_goes_on_where_it_stopped_and_answers_as_one_unpaused()
    {
        // Three 40,000-byte values: the backlog passes 64 KiB after the second key of the first get.
        const string Script = "gats 0 a b c\r\nget c b a\r\nmg a v\r\nmg b v\r\nmn\r\n";
        var unpaused = new ArrayBufferWriter<byte>();
        var input = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Script));
        NewProcessor().Process(ref input, unpaused);
        Assert.That(input.Length, Is.Zero);

        var sent = new MemoryStream();
        var pipe = PipeWriter.Create(sent);
        var processor = NewProcessor();
        input = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Script));
        var pauses = 0;
        while (true)
        {
            var outcome = processor.Process(ref input, pipe);
            Assert.That(pipe.UnflushedBytes, Is.LessThan(ReplyBacklog.PauseAtBytes + 40_100), "at most the bound and one reply");
            pipe.FlushAsync().AsTask().GetAwaiter().GetResult();
            if ((outcome & ProcessOutcome.Paused) == 0)
            {
                break;
            }
            pauses++;
        }

        Assert.That(input.Length, Is.Zero);
        Assert.That(pauses, Is.GreaterThanOrEqualTo(2), "the first get paused, between its keys");
        Assert.That(TextClient.Printable(sent.ToArray()), Is.EqualTo(TextClient.Printable(unpaused.WrittenSpan)));
    }

    /// <summary>A processor over a fresh cache holding a, b and c, each a 40,000-byte value.</summary>
    private static TextProtocolProcessor NewProcessor()
    {
        var settings = new ServerSettings();
        var cache = new MemCache(settings.ToCacheOptions());
        foreach (var key in new[] { "a", "b", "c" })
        {
            cache.Store(StoreMode.Set, Encoding.ASCII.GetBytes(key), 0, 0, Enumerable.Repeat((byte)key[0], 40_000).ToArray(), 0);
        }
        return new TextProtocolProcessor(new ServerContext(cache, null, settings, new ServerStatistics()));
    }

    /// <summary>VALUE lines for key b, every one with the same CAS when the command asked for it, then END.</summary>
    private static async Task ExpectValuesAsync(TextClient client, string? request, int count, int fields)
    {
        if (request is not null)
        {
            await client.SendAsync(request);
        }
        string? firstHeader = null;
        for (var i = 0; i < count; i++)
        {
            var header = await client.ReadLineAsync();
            Assert.That(header.Split(' '), Has.Length.EqualTo(fields), header);
            Assert.That(header, Does.StartWith($"VALUE b 0 {ValueBytes}"));
            Assert.That(header, Is.EqualTo(firstHeader ??= header), "one item, one CAS");
            await ExpectValueBytesAsync(client);
        }
        Assert.That(await client.ReadLineAsync(), Is.EqualTo("END"));
    }

    private static async Task ExpectPipelinedGetsAsync(TextClient client)
    {
        for (var i = 0; i < Requests; i++)
        {
            Assert.That(await client.ReadLineAsync(), Is.EqualTo($"VALUE b 0 {ValueBytes}"), $"reply {i}");
            await ExpectValueBytesAsync(client);
            Assert.That(await client.ReadLineAsync(), Is.EqualTo("END"));
        }
    }

    private static async Task ExpectMetaGetsAsync(TextClient client)
    {
        for (var i = 0; i < Requests; i++)
        {
            Assert.That(await client.ReadLineAsync(), Is.EqualTo($"VA {ValueBytes}"), $"reply {i}");
            await ExpectValueBytesAsync(client);
        }
        Assert.That(await client.ReadLineAsync(), Is.EqualTo("MN"));
    }

    private static async Task ExpectBinaryGetsAsync(TextClient client)
    {
        for (var i = 0; i < Requests; i++)
        {
            var response = await client.ReadResponseAsync();
            Assert.That((response.Opcode, response.Status, response.Opaque, response.KeyText), Is.EqualTo((BinaryPacket.GetKQ, (ushort)0, (uint)i, "b")));
            Assert.That(response.Value.AsSpan().SequenceEqual(Value), $"reply {i}'s value");
        }
        Assert.That((await client.ReadResponseAsync()).Opcode, Is.EqualTo(BinaryPacket.Noop));
    }

    private static async Task ExpectValueBytesAsync(TextClient client)
    {
        var data = await client.ReadExactlyAsync(ValueBytes + 2);
        Assert.That(data.AsSpan(0, ValueBytes).SequenceEqual(Value) && data[^2] == '\r' && data[^1] == '\n', "the value, then CRLF");
    }

    private static long ResidentKiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}

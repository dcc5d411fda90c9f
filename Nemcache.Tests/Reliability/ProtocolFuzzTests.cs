using System.Net.Sockets;
using System.Text;
using Nemcache.Service.Protocol;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Reliability;

/// <summary>
/// The quick form of tests/fuzz.py: a short seeded fuzz, random and mutation-based, each input on its own connection,
/// while a bystander connection keeps setting and reading its own keys and checks every answer.
/// </summary>
[TestFixture]
public sealed class ProtocolFuzzTests
{
    private const int Inputs = 400;

    private static readonly string[] Valid =
    [
        "set k 0 0 5\r\nhello\r\n", "get k\r\n", "gets k k\r\n", "append k 0 0 3\r\nabc\r\n", "cas k 0 0 1 1\r\ny\r\n",
        "set n 0 0 2\r\n10\r\nincr n 5\r\n", "decr n 100\r\n", "touch k 10\r\n", "gat 10 k\r\n", "delete k\r\n",
        "stats\r\n", "version\r\n", "verbosity 1\r\n", "set k 0 0 3 noreply\r\nabc\r\n",
    ];

    private static readonly string[] Extremes =
        ["-1", "18446744073709551616", "9223372036854775807", "-9223372036854775809", "4294967296", "99999999999", "", "0x1"];

    [Test]
    public async Task Seeded_fuzz_never_crashes_the_server_and_a_bystander_keeps_correct_answers()
    {
        await using var server = await ServerProcess.StartAsync();
        using var stop = new CancellationTokenSource();
        var bystander = Task.Run(() => RunBystander(server.Port, stop.Token));
        var random = new Random(1121);

        for (var i = 0; i < Inputs; i++)
        {
            var input = random.Next(2) == 0 ? RandomInput(random) : Mutate(random, Valid[random.Next(Valid.Length)] + Valid[random.Next(Valid.Length)]);
            await SendOne(server.Port, input, dropMidway: random.Next(5) == 0, random);
            Assert.That(server.HasExited, Is.False, $"input {i}: {TextClient.Printable(input)}\n{server.Output}");
        }

        await stop.CancelAsync();
        var checks = await bystander;
        Assert.That(checks, Is.GreaterThan(0));
        using var fresh = await server.ConnectAsync();
        await fresh.ExpectAsync("version\r\n", $"VERSION {ServerContext.Version}\r\n");
    }

    private static byte[] RandomInput(Random random) => random.Next(5) switch
    {
        0 => RandomBytes(random, random.Next(1, 3000)),
        1 => Encoding.Latin1.GetBytes($"{Pick(random, ["set", "get", "incr", "touch", "cas", "delete", "gat"])} " +
                                      $"{new string('k', random.Next(1, 300))} {Pick(random, Extremes)} {Pick(random, Extremes)} {Pick(random, Extremes)}\r\n"),
        2 => Encoding.Latin1.GetBytes($"set big 0 0 {Pick(random, ["1048577", "2147483647", "100"])}\r\n{new string('v', random.Next(200))}"),
        3 => Encoding.Latin1.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(_ => Valid[random.Next(Valid.Length)]))),
        _ => Encoding.Latin1.GetBytes(new string('x', random.Next(16_000, 20_000))),
    };

    private static byte[] Mutate(Random random, string valid)
    {
        var bytes = Encoding.Latin1.GetBytes(valid).ToList();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                case 2: bytes.RemoveAt(at); break;
                default: bytes.InsertRange(at, Encoding.Latin1.GetBytes(Pick(random, Extremes))); break;
            }
        }
        return bytes.ToArray();
    }

    private static string Pick(Random random, string[] choices) => choices[random.Next(choices.Length)];

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Sends the input and reads until the server closes (after a half-close), or drops it part-way.</summary>
    private static async Task SendOne(int port, byte[] input, bool dropMidway, Random random)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        try
        {
            if (dropMidway)
            {
                await socket.SendAsync(input.AsMemory(0, random.Next(input.Length)));
                socket.LingerState = new LingerOption(true, 0);
                return;
            }
            await socket.SendAsync(input);
            socket.Shutdown(SocketShutdown.Send);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var buffer = new byte[64 * 1024];
            while (await socket.ReceiveAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // The server closed a connection whose line was too long: that is its answer.
        }
    }

    private static async Task<int> RunBystander(int port, CancellationToken stop)
    {
        using var client = await TextClient.ConnectAsync(port);
        var random = new Random(7);
        var checks = 0;
        while (!stop.IsCancellationRequested)
        {
            var key = $"bystander{random.Next(20)}";
            var value = new string((char)random.Next('a', 'z'), random.Next(1, 500));
            var flags = (uint)random.Next();
            await client.ExpectAsync($"set {key} {flags} 0 {value.Length}\r\n{value}\r\n", "STORED\r\n");
            Assert.That((await client.GetManyAsync([key]))[key], Is.EqualTo((flags, value)));
            checks++;
        }
        return checks;
    }
}

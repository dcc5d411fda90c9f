using System.Buffers;
using System.Text;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The processor on its own, fed input in every possible split: a command must be answered the same however its
/// bytes arrive.
/// </summary>
[TestFixture]
public sealed class TextProtocolProcessorTests
{
    private const string Script =
        "set alpha 1 0 5\r\nhello\r\nget alpha beta\r\nappend alpha 0 0 1 noreply\r\n!\r\ngets alpha\r\n" +
        "incr n 1\r\nset n 0 0 1\r\n7\r\nincr n 5\r\ndelete alpha\r\nbogus\r\nget alpha\r\n";

    private static string RunInPieces(string script, int pieceSize)
    {
        var settings = new ServerSettings();
        var context = new ServerContext(new MemCache(settings.ToCacheOptions()), null, settings, new ServerStatistics());
        var processor = new TextProtocolProcessor(context);
        var output = new ArrayBufferWriter<byte>();
        var pending = Array.Empty<byte>();
        foreach (var piece in Encoding.ASCII.GetBytes(script).Chunk(pieceSize))
        {
            pending = [.. pending, .. piece];
            var input = new ReadOnlySequence<byte>(pending);
            processor.Process(ref input, output);
            pending = input.ToArray();
        }
        Assert.That(pending, Is.Empty, "everything was consumed");
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    [Test]
    public void Whole_script_at_once()
    {
        var reply = RunInPieces(Script, int.MaxValue);
        Assert.That(reply, Does.Match(
            "^STORED\r\nVALUE alpha 1 5\r\nhello\r\nEND\r\nVALUE alpha 1 6 \\d+\r\nhello!\r\nEND\r\n" +
            "NOT_FOUND\r\nSTORED\r\n12\r\nDELETED\r\nERROR\r\nEND\r\n$"));
    }

    [Test]
    public void Every_split_size_gives_the_same_replies([Range(1, 24)] int pieceSize)
    {
        static string WithoutCas(string reply) => System.Text.RegularExpressions.Regex.Replace(reply, "VALUE alpha 1 6 \\d+", "VALUE alpha 1 6 CAS");
        Assert.That(WithoutCas(RunInPieces(Script, pieceSize)), Is.EqualTo(WithoutCas(RunInPieces(Script, int.MaxValue))));
    }

    [Test]
    public void Multi_segment_input_is_parsed_like_contiguous_input()
    {
        var settings = new ServerSettings();
        var context = new ServerContext(new MemCache(settings.ToCacheOptions()), null, settings, new ServerStatistics());
        var processor = new TextProtocolProcessor(context);
        var output = new ArrayBufferWriter<byte>();
        var input = Segments.Create(Encoding.ASCII.GetBytes("set k 0 0 3\r\nabc\r\nget k\r\n"), segmentLength: 2);
        processor.Process(ref input, output);
        Assert.That(Encoding.ASCII.GetString(output.WrittenSpan), Is.EqualTo("STORED\r\nVALUE k 0 3\r\nabc\r\nEND\r\n"));
        Assert.That(input.Length, Is.Zero);
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Create(byte[] bytes, int segmentLength)
        {
            var first = new Segments(bytes.AsMemory(0, segmentLength), 0);
            var last = first;
            for (var offset = segmentLength; offset < bytes.Length; offset += segmentLength)
            {
                var next = new Segments(bytes.AsMemory(offset, Math.Min(segmentLength, bytes.Length - offset)), offset);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}

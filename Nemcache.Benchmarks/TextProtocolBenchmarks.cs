using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Benchmarks;

/// <summary>
/// One request through the text protocol processor and the cache, as a connection runs it: parse, execute, write the
/// reply into the output buffer. Allocation per op is the figure to watch: a get must allocate nothing, a set only the
/// value array the cache keeps.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class TextProtocolBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private TextProtocolProcessor _processor = null!;
    private byte[] _get = [];
    private byte[] _set = [];
    private byte[] _pipelinedNoreplySets = [];

    [GlobalSetup]
    public void Setup()
    {
        var settings = new ServerSettings();
        var cache = new MemCache(settings.ToCacheOptions());
        _processor = new TextProtocolProcessor(new ServerContext(cache, null, settings, new ServerStatistics()));
        var value = new string('v', 100);
        _set = Encoding.ASCII.GetBytes($"set bench:key:0001 0 0 100\r\n{value}\r\n");
        _get = Encoding.ASCII.GetBytes("get bench:key:0001\r\n");
        _pipelinedNoreplySets = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 16)
            .Select(i => $"set bench:key:{i:0000} 0 0 100 noreply\r\n{value}\r\n")));
        Run(_set);
    }

    [Benchmark]
    public int GetHit() => Run(_get);

    [Benchmark]
    public int SetOverwrite() => Run(_set);

    [Benchmark(OperationsPerInvoke = 16)]
    public int SixteenPipelinedNoreplySets() => Run(_pipelinedNoreplySets);

    private int Run(byte[] request)
    {
        _output.ResetWrittenCount();
        var input = new ReadOnlySequence<byte>(request);
        _processor.Process(ref input, _output);
        return _output.WrittenCount;
    }
}

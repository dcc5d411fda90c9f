using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using BenchmarkDotNet.Attributes;

namespace Nemcache.Benchmarks;

/// <summary>
/// CRC-32C two ways, side by side in one run: System.IO.Hashing's parameterised CRC-32 (what the formats use) against a
/// loop over <see cref="BitOperations.Crc32C(uint, ulong)"/>, the hardware instruction eight bytes at a time. Sizes: a
/// Bitcask record of a 100-byte value, a 4 KiB value, and a 64 KiB chunk of a hint file.
/// </summary>
[ShortRunJob]
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(140, 4096, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint SystemIOHashing() => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, _data);

    [Benchmark]
    public uint BitOperationsLoop()
    {
        var state = uint.MaxValue;
        ReadOnlySpan<byte> data = _data;
        while (data.Length >= sizeof(ulong))
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }
        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return ~state;
    }
}

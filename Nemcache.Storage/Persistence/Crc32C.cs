using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// CRC-32C (Castagnoli) as iSCSI and ext4 define it, for both on-disk formats. The standard CRC starts from all ones
/// and inverts at the end, so that leading zero bytes change it; <see cref="BitOperations.Crc32C(uint, ulong)"/> is only
/// the raw (hardware) step, so this adds both.
/// </summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(uint.MaxValue, data);

    /// <summary>Continues a running state (before the final inversion) over more bytes: ~Append(Append(~0, a), b) is
    /// the CRC of a followed by b.</summary>
    // A restore runs this for every record within its first second, before tiered compilation would optimize it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }
        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return state;
    }
}

using System.IO.Hashing;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// CRC-32C (Castagnoli) as iSCSI and ext4 define it, for both on-disk formats, computed by System.IO.Hashing.
/// </summary>
public static class Crc32C
{
    /// <summary>One running hasher per thread, for checksums over two separate pieces of memory.</summary>
    [ThreadStatic]
    private static Crc32? _pair;

    public static uint Compute(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>The CRC of <paramref name="first"/> followed by <paramref name="second"/>, without allocating.</summary>
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var hasher = _pair ??= Create();
        hasher.Reset();
        hasher.Append(first);
        hasher.Append(second);
        return hasher.GetCurrentHashAsUInt32();
    }

    /// <summary>A running CRC-32C, for data that comes in many pieces: Append each, then GetCurrentHashAsUInt32.</summary>
    public static Crc32 Create() => new(Crc32ParameterSet.Crc32C);
}

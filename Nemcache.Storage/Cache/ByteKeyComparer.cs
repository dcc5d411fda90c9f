namespace Nemcache.Storage.Cache;

/// <summary>
/// Byte-exact key equality, usable with a span so that a lookup never builds a key array or string.
/// <see cref="HashCode.AddBytes"/> is seeded per process, which keeps hash flooding off the table. Public so that a
/// plugin's own key tables (Bitcask's keydir) hash and compare keys exactly as the cache does; hashes are not stable
/// across processes, so none may be stored.
/// </summary>
public sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    /// <summary>The one instance; the comparer holds no state.</summary>
    public static readonly ByteKeyComparer Instance = new();

    /// <summary>The key's hash in this process: equal bytes give equal hashes, whether from an array or a span.</summary>
    public static int Hash(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
        return hash.ToHashCode();
    }

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] key) => Hash(key);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}

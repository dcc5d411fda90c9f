namespace Nemcache.Storage.Cache;

/// <summary>
/// Allocates the arrays the cache keeps as values. A cached value usually outlives several young-generation
/// collections, and each one it survives copies it; under churn (every set evicting an older item) that copying of
/// 4 KiB values cost more server CPU than the protocol itself. Large values therefore go to the pinned object heap,
/// which never moves them. Small ones stay on the ordinary heap: there the pinned heap's slower allocation costs more
/// than the copies it saves. Measured with memaslap 10/90: docs/benchmarks.md, "What limits set-heavy".
/// </summary>
public static class ValueArrays
{
    /// <summary>From this length on, a value is allocated on the pinned object heap.</summary>
    public const int PinnedFromLength = 1024;

    /// <summary>An uninitialised array for a value of <paramref name="length"/> bytes; the caller fills all of it.</summary>
    public static byte[] Allocate(int length) =>
        GC.AllocateUninitializedArray<byte>(length, pinned: length >= PinnedFromLength);
}

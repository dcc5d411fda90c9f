using System.Runtime.CompilerServices;

namespace Nemcache.Storage;

/// <summary>
/// How the methods a restore runs once per record are compiled: <c>[MethodImpl(RestoreHotPath.Compile)]</c>. A restore
/// runs them for every record within its first second, before tiered compilation would have optimized them, so they are
/// compiled fully optimized from their first call instead of starting at tier 0.
/// </summary>
public static class RestoreHotPath
{
    /// <summary>The option each per-record restore method carries.</summary>
    public const MethodImplOptions Compile = MethodImplOptions.AggressiveOptimization;
}

namespace Nemcache.Benchmarks.Measurements;

/// <summary>
/// One-shot measurements that BenchmarkDotNet's repeated runs do not fit: live bytes per item after a full collection,
/// and a million-item append and recovery. Each prints its figures and fails (exit code 1) when a figure is past the
/// bound the docs rely on. Run: dotnet run -c Release --project Nemcache.Benchmarks -- measure NAME.
/// </summary>
internal static class Measurement
{
    /// <summary>The first argument that selects a measurement instead of BenchmarkDotNet.</summary>
    public const string Command = "measure";

    private static readonly Dictionary<string, Func<TextWriter, IReadOnlyList<string>>> All = new()
    {
        ["cache-memory"] = CacheMemoryMeasurement.Run,
        ["keydir-memory"] = KeyDirMemoryMeasurement.Run,
        ["bitcask-throughput"] = BitcaskThroughputMeasurement.Run,
    };

    /// <summary>Runs the measurements named in <paramref name="names"/>, all of them when none is. A memory figure is
    /// truest named alone, in a process whose heap nothing else has used.</summary>
    public static int Run(IReadOnlyList<string> names, TextWriter output)
    {
        var unknown = names.Where(name => !All.ContainsKey(name)).ToList();
        if (unknown.Count > 0)
        {
            output.WriteLine($"unknown measurement {string.Join(", ", unknown)}; known: {string.Join(", ", All.Keys)}");
            return 2;
        }
        var failed = false;
        foreach (var name in names.Count == 0 ? [.. All.Keys] : names)
        {
            output.WriteLine($"== {name}");
            foreach (var failure in All[name](output))
            {
                output.WriteLine($"FAILED: {failure}");
                failed = true;
            }
        }
        return failed ? 1 : 0;
    }
}

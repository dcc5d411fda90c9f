using System.Diagnostics;
using System.Text;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;

namespace Nemcache.Benchmarks.Measurements;

/// <summary>
/// Rough figures for docs/bitcask-format.md: append rate and recovery time (from hints, then from a scan) for a million
/// small items. It writes a few hundred MB into a temporary directory, which it removes.
/// </summary>
internal static class BitcaskThroughputMeasurement
{
    private const int Items = 1_000_000;

    public static IReadOnlyList<string> Run(TextWriter output)
    {
        var directory = Directory.CreateTempSubdirectory("nemcache-measure-bitcask-").FullName;
        try
        {
            return Measure(directory, output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static List<string> Measure(string directory, TextWriter output)
    {
        var persistence = new PersistenceOptions { DataDirectory = directory, Sync = SyncMode.None };
        var options = new BitcaskOptions { MergeMinDeadBytes = long.MaxValue, MaxFileBytes = 64L * 1024 * 1024 };
        var value = new byte[100];
        var keys = new byte[Items][];
        for (var i = 0; i < Items; i++)
        {
            keys[i] = Encoding.ASCII.GetBytes($"user:session:{i:D10}");
        }

        var engine = Bitcask.Open(persistence, options);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Items; i++)
        {
            engine.Put(keys[i], value, 0, 0);
        }
        var append = Stopwatch.GetElapsedTime(started);
        engine.Dispose();

        engine = Bitcask.Open(persistence, options);
        var fromHints = engine.LastRecovery;
        var loaded = 0;
        started = Stopwatch.GetTimestamp();
        engine.ForEachLive(_ => loaded++);
        var load = Stopwatch.GetElapsedTime(started);
        engine.Dispose();

        foreach (var hint in Directory.EnumerateFiles(directory, "*.hint"))
        {
            File.Delete(hint);
        }
        engine = Bitcask.Open(persistence, options);
        var fromScan = engine.LastRecovery;
        engine.Dispose();

        output.WriteLine($"{Items} puts of 23 B keys and 100 B values (sync none): {append.TotalMilliseconds:F0} ms, " +
                         $"{Items / append.TotalSeconds:F0} puts/s");
        output.WriteLine($"keydir from {fromHints.FilesFromHints} hint files: {fromHints.Elapsed.TotalMilliseconds:F0} ms; " +
                         $"values read in file order: {load.TotalMilliseconds:F0} ms");
        output.WriteLine($"keydir from scanning {fromScan.Files} data files: {fromScan.Elapsed.TotalMilliseconds:F0} ms");

        var failures = new List<string>();
        if (loaded != Items)
        {
            failures.Add($"{loaded} values loaded, expected {Items}");
        }
        if (fromHints.Keys != Items || fromScan.Keys != Items)
        {
            failures.Add($"recovered {fromHints.Keys} keys from hints and {fromScan.Keys} by scanning, expected {Items}");
        }
        if (fromHints.FilesFromHints != fromHints.Files)
        {
            failures.Add($"{fromHints.FilesFromHints} of {fromHints.Files} files recovered from their hints");
        }
        return failures;
    }
}

using System.Text;
using Nemcache.Storage.Bitcask;

namespace Nemcache.Benchmarks.Measurements;

/// <summary>
/// The keydir's memory per key, as docs/bitcask-format.md reports it. It allocates a few hundred MB and wants a quiet
/// process.
/// </summary>
internal static class KeyDirMemoryMeasurement
{
    private const int Keys = 1_000_000;

    /// <summary>A 48-byte slot in a block and a 4-byte bucket, with the buckets' growth slack.</summary>
    private const double MaxTableBytesPerKey = 60;

    public static IReadOnlyList<string> Run(TextWriter output)
    {
        var keys = new byte[Keys][];
        var keysBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < Keys; i++)
        {
            keys[i] = Encoding.ASCII.GetBytes($"user:session:{i:D10}");
        }
        var keysAfter = GC.GetTotalMemory(forceFullCollection: true);

        var directory = new KeyDir();
        for (var i = 0; i < Keys; i++)
        {
            directory.GetOrAdd(keys[i], out _) = new KeyDirEntry { FileId = 1, ValueOffset = i * 100L, ValueSize = 50, Seq = i };
        }
        var directoryAfter = GC.GetTotalMemory(forceFullCollection: true);

        var keyBytes = (double)(keysAfter - keysBefore) / Keys;
        var tableBytes = (double)(directoryAfter - keysAfter) / Keys;
        output.WriteLine($"key length {keys[0].Length} B: key array {keyBytes:F1} B/key, table {tableBytes:F1} B/key, " +
                         $"total {keyBytes + tableBytes:F1} B/key, entry struct {System.Runtime.CompilerServices.Unsafe.SizeOf<KeyDirEntry>()} B");
        GC.KeepAlive(directory);
        return tableBytes < MaxTableBytesPerKey ? [] : [$"table {tableBytes:F1} B/key, expected less than {MaxTableBytesPerKey}"];
    }
}

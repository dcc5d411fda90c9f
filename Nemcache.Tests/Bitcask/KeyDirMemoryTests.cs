using System.Text;
using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// The keydir's memory per key, as docs/bitcask-format.md reports it. Explicit: it allocates a few hundred MB and
/// wants a quiet process. Run with: dotnet test -c Release --filter "FullyQualifiedName~KeyDirMemoryTests".
/// </summary>
[Explicit("Measurement; run by hand.")]
public class KeyDirMemoryTests
{
    private const int Keys = 1_000_000;

    [Test]
    public void Bytes_per_key_for_a_million_keys()
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
        TestContext.Out.WriteLine($"key length {keys[0].Length} B: key array {keyBytes:F1} B/key, table {tableBytes:F1} B/key, " +
                                  $"total {keyBytes + tableBytes:F1} B/key, entry struct {System.Runtime.CompilerServices.Unsafe.SizeOf<KeyDirEntry>()} B");
        GC.KeepAlive(directory);
        Assert.That(tableBytes, Is.LessThan(60), "a 48-byte slot in a block and a 4-byte bucket, with the buckets' growth slack");
    }
}

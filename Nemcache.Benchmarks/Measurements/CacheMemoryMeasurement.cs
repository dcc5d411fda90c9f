using System.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Benchmarks.Measurements;

/// <summary>
/// The cache's memory per item, as docs/benchmarks.md reports it: live bytes after a full collection, so growth slack
/// of the shards' tables is included but garbage is not. It allocates a few hundred MB and wants a quiet process.
/// </summary>
internal static class CacheMemoryMeasurement
{
    private const int Items = 1_000_000;
    private const int ValueSize = 100;
    private const double MaxBytesPerItem = 300;

    public static IReadOnlyList<string> Run(TextWriter output)
    {
        var cache = new MemCache(new CacheOptions { MemoryLimitBytes = 4L << 30 });
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < Items; i++)
        {
            cache.Store(StoreMode.Set, Encoding.ASCII.GetBytes($"key{i}"), 0, 0, new byte[ValueSize]);
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);

        var perItem = (double)(after - before) / Items;
        output.WriteLine($"{perItem:F1} B/item for keys of about 9 B and values of {ValueSize} B");
        GC.KeepAlive(cache);
        return perItem < MaxBytesPerItem ? [] : [$"{perItem:F1} B/item, expected less than {MaxBytesPerItem}"];
    }
}

using System.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Tests.Cache;

/// <summary>
/// The cache's memory per item, as docs/benchmarks.md reports it: live bytes after a full collection, so growth slack
/// of the shards' tables is included but garbage is not. Explicit: it allocates a few hundred MB and wants a quiet
/// process. Run with: dotnet test -c Release --filter "FullyQualifiedName~CacheMemoryTests".
/// </summary>
[Explicit("Measurement; run by hand.")]
public class CacheMemoryTests
{
    private const int Items = 1_000_000;
    private const int ValueSize = 100;

    [Test]
    public void Bytes_per_item_for_a_million_items_of_100_bytes()
    {
        var cache = new MemCache(new CacheOptions { MemoryLimitBytes = 4L << 30 });
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < Items; i++)
        {
            cache.Store(StoreMode.Set, Encoding.ASCII.GetBytes($"key{i}"), 0, 0, new byte[ValueSize]);
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);

        var perItem = (double)(after - before) / Items;
        TestContext.Out.WriteLine($"{perItem:F1} B/item for keys of about 9 B and values of {ValueSize} B");
        GC.KeepAlive(cache);
        Assert.That(perItem, Is.LessThan(300));
    }
}

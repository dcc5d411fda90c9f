using System.Runtime;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence;

public class NoGcRegionTests
{
    private const long Unlimited = long.MaxValue / NoGcRegion.AllocatedBytesPerStoredByte;
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("nemcache-nogc-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void A_restore_from_files_runs_without_collections_until_disposed()
    {
        File.WriteAllBytes(Path.Combine(_directory, "data"), new byte[1024 * 1024]);
        var collections = GC.CollectionCount(0);

        using (NoGcRegion.ForRestoreFrom(_directory, Unlimited))
        {
            Assert.That(GCSettings.LatencyMode, Is.EqualTo(GCLatencyMode.NoGCRegion));
            var kept = new List<byte[]>();
            for (var i = 0; i < 1000; i++)
            {
                kept.Add(new byte[1024]);
            }
            Assert.That(GC.CollectionCount(0), Is.AtMost(collections + 1), "at most the collection that starts the region");
        }

        Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion));
    }

    [Test]
    public void A_restore_that_allocates_more_than_foreseen_just_collects()
    {
        File.WriteAllBytes(Path.Combine(_directory, "data"), new byte[1024]);

        Assert.DoesNotThrow(() =>
        {
            using var region = NoGcRegion.ForRestoreFrom(_directory, Unlimited);
            var kept = new List<byte[]>();
            for (var i = 0; i < 100_000; i++)
            {
                kept.Add(new byte[1024]);
            }
        });
        Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion));
    }

    [Test]
    public void A_directory_larger_than_the_cache_gets_a_region_sized_for_the_cache()
    {
        File.WriteAllBytes(Path.Combine(_directory, "data"), new byte[16 * 1024 * 1024]);

        using (NoGcRegion.ForRestoreFrom(_directory, cacheMemoryLimitBytes: 64 * 1024))
        {
            Assert.That(GCSettings.LatencyMode, Is.EqualTo(GCLatencyMode.NoGCRegion));
            var kept = new List<byte[]>();
            for (var i = 0; i < 16 * 1024; i++)
            {
                kept.Add(new byte[1024]);
            }
            Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion),
                "16 MiB allocated: far past a region for a 64 KiB cache, which has ended");
        }
    }

    [Test]
    public void An_empty_or_missing_directory_starts_no_region()
    {
        using (NoGcRegion.ForRestoreFrom(_directory, Unlimited))
        {
            Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion));
        }
        using (NoGcRegion.ForRestoreFrom(Path.Combine(_directory, "missing"), Unlimited))
        {
            Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion));
        }
    }
}

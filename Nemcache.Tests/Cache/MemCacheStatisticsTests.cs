using System.Text;
using Nemcache.Storage.Cache;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Cache;

/// <summary>The figures behind memcached's item and crawler statistics, and the key listings' order.</summary>
[TestFixture]
public sealed class MemCacheStatisticsTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    [Test]
    public void Evictions_count_items_with_an_expiry_and_items_never_read()
    {
        var clock = new ManualTimeProvider();
        var cache = new MemCache(new CacheOptions { MemoryLimitBytes = 20 * 1024, MaxItemSize = 2048 }, clock);
        var value = new byte[1000];
        cache.Store(StoreMode.Set, B("read"), 0, 1000, value);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        cache.TryGet(B("read"), out _);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        for (var i = 0; i < 40; i++)
        {
            cache.Store(StoreMode.Set, B($"k{i}"), 0, 0, value);
        }

        var stats = cache.GetStatistics();
        Assert.That(cache.TryGet(B("read"), out _), Is.False, "the oldest item went first");
        Assert.That(stats.EvictedNonzero, Is.EqualTo(1), "only the first item had an expiry");
        Assert.That(stats.EvictedUnfetched, Is.EqualTo(stats.Evictions - 1), "every evicted item but the read one was unread");
        Assert.That(stats.LastEvictedIdleSeconds, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void The_periodic_reclaim_counts_its_runs_what_it_checked_and_what_it_removed()
    {
        var clock = new ManualTimeProvider();
        var cache = new MemCache(new CacheOptions(), clock);
        cache.Store(StoreMode.Set, B("stays"), 0, 0, B("x"));
        cache.Store(StoreMode.Set, B("unread"), 0, 10, B("x"));
        cache.Store(StoreMode.Set, B("read"), 0, 10, B("x"));
        cache.TryGet(B("read"), out _);
        clock.AdvanceSeconds(11);

        Assert.That(cache.ReclaimExpired(), Is.EqualTo(2));
        var stats = cache.GetStatistics();
        Assert.That((stats.ReclaimRuns, stats.CrawlerItemsChecked, stats.CrawlerReclaimed, stats.Reclaimed, stats.ExpiredUnfetched),
            Is.EqualTo((1L, 3L, 2L, 2L, 1L)));

        cache.ResetStatistics();
        stats = cache.GetStatistics();
        Assert.That((stats.ReclaimRuns, stats.CrawlerReclaimed, stats.ExpiredUnfetched), Is.EqualTo((0L, 0L, 0L)));
    }

    [Test]
    public void A_refused_oversized_set_is_counted_and_drops_the_old_value_while_other_modes_keep_it()
    {
        var cache = new MemCache(new CacheOptions(), new ManualTimeProvider());
        cache.Store(StoreMode.Set, B("k"), 0, 0, B("old"));
        Assert.That(cache.RefuseTooLarge(StoreMode.Add, B("k")), Is.EqualTo(DeleteResult.NotFound));
        Assert.That(cache.TryGet(B("k"), out _), Is.True);
        Assert.That(cache.RefuseTooLarge(StoreMode.Set, B("k")), Is.EqualTo(DeleteResult.Deleted));
        Assert.That(cache.TryGet(B("k"), out _), Is.False);
        Assert.That(cache.GetStatistics().StoreTooLarge, Is.EqualTo(2));
    }

    [Test]
    public void Listings_give_the_most_recently_used_first_and_summaries_of_live_items_only()
    {
        var clock = new ManualTimeProvider();
        var cache = new MemCache(new CacheOptions(), clock);
        foreach (var key in new[] { "a", "b", "c" })
        {
            cache.Store(StoreMode.Set, B(key), 0, 0, B(key + key));
            clock.Advance(TimeSpan.FromMilliseconds(20));
        }
        cache.Store(StoreMode.Set, B("gone"), 0, 5, B("x"));
        clock.Advance(TimeSpan.FromMilliseconds(20));
        cache.TryGet(B("a"), out _);
        clock.AdvanceSeconds(6);

        Assert.That(cache.MostRecentlyUsed(2).Select(s => Encoding.ASCII.GetString(s.Key)), Is.EqualTo(new[] { "a", "c" }));
        var all = new List<ItemSummary>();
        cache.VisitSummaries(all.Add);
        Assert.That(all.Select(s => Encoding.ASCII.GetString(s.Key)), Is.EquivalentTo(new[] { "a", "b", "c" }));
        var a = all.Single(s => s.Key.SequenceEqual(B("a")));
        Assert.That((a.ValueLength, a.Fetched, a.ExpiresAt, a.Footprint), Is.EqualTo((2, true, 0L, 1 + 2 + CacheLimits.ItemOverheadBytes)));
    }

    [Test]
    public void The_most_recently_used_are_found_across_shards_however_many_items_there_are()
    {
        var clock = new ManualTimeProvider();
        var cache = new MemCache(new CacheOptions(), clock);
        for (var i = 0; i < 500; i++)
        {
            cache.Store(StoreMode.Set, B($"k{i}"), 0, 0, B("v"));
        }
        foreach (var key in new[] { "x", "y", "z" })
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            cache.Store(StoreMode.Set, B(key), 0, 0, B("v"));
        }
        Assert.That(cache.MostRecentlyUsed(3).Select(s => Encoding.ASCII.GetString(s.Key)), Is.EqualTo(new[] { "z", "y", "x" }));
        Assert.That(cache.MostRecentlyUsed(1000), Has.Count.EqualTo(503));
        Assert.That(cache.MostRecentlyUsed(0), Is.Empty);
    }
}

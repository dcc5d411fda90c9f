using System.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;

namespace Nemcache.Tests.Cache;

/// <summary>The options the binary and meta protocols use: CAS everywhere, invalidation, recache wins, vivify.</summary>
public sealed partial class MemCacheTests
{
    [Test]
    public void Store_with_options_returns_the_new_cas_and_checks_cas_on_append()
    {
        var result = _cache.Store(StoreMode.Set, B("k"), B("a"), new StoreOptions(3, 0), out var stored);
        _cache.TryGet(B("k"), out var read);
        Assert.That((result, stored.Cas, stored.Flags), Is.EqualTo((StoreResult.Stored, read.Cas, 3u)));

        Assert.That(_cache.Store(StoreMode.Append, B("k"), B("b"), new StoreOptions(0, 0) { CompareCas = read.Cas + 1 }, out _),
            Is.EqualTo(StoreResult.Exists));
        Assert.That(_cache.Store(StoreMode.Append, B("k"), B("b"), new StoreOptions(0, 0) { CompareCas = read.Cas }, out _),
            Is.EqualTo(StoreResult.Stored));
        Assert.That(Get("k"), Is.EqualTo("ab"));
    }

    [Test]
    public void Append_with_vivify_creates_a_missing_item_with_the_vivify_expiry()
    {
        var options = new StoreOptions(5, 0) { VivifyExptime = 30 };
        Assert.That(_cache.Store(StoreMode.Append, B("k"), B("x"), options, out var stored), Is.EqualTo(StoreResult.Stored));
        Assert.That((stored.Flags, stored.ExpiresAt), Is.EqualTo((5u, _clock.UnixSeconds + 30)));
        Assert.That(_changes.All[^1].Kind, Is.EqualTo(CacheChangeKind.Store));
    }

    [Test]
    public void Invalidate_marks_the_item_stale_with_a_new_cas_and_the_first_reader_wins()
    {
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("v"));
        _cache.TryGet(B("k"), out var before);

        Assert.That(_cache.Invalidate(B("k"), before.Cas + 1, exptime: null), Is.EqualTo(DeleteResult.Exists));
        Assert.That(_cache.Invalidate(B("missing"), 0, exptime: null), Is.EqualTo(DeleteResult.NotFound));
        Assert.That(_cache.Invalidate(B("k"), before.Cas, exptime: 30), Is.EqualTo(DeleteResult.Deleted));
        Assert.That(_changes.All[^1], Has.Property(nameof(CacheChange.Kind)).EqualTo(CacheChangeKind.Touch)
            .And.Property(nameof(CacheChange.ExpiresAt)).EqualTo(_clock.UnixSeconds + 30));

        _cache.TryGet(B("k"), new ReadOptions(), out var first, out var firstMeta);
        _cache.TryGet(B("k"), new ReadOptions(), out _, out var secondMeta);
        Assert.That(first.Cas, Is.Not.EqualTo(before.Cas));
        Assert.That((firstMeta.Stale, firstMeta.Won, firstMeta.WinTokenSentBefore), Is.EqualTo((true, true, false)));
        Assert.That((secondMeta.Stale, secondMeta.Won, secondMeta.WinTokenSentBefore), Is.EqualTo((true, false, true)));

        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("fresh"));
        _cache.TryGet(B("k"), new ReadOptions(), out _, out var afterStore);
        Assert.That((afterStore.Stale, afterStore.Won, afterStore.WinTokenSentBefore), Is.EqualTo((false, false, false)));
    }

    [Test]
    public void An_invalidating_store_accepts_an_older_cas_and_stores_a_stale_item()
    {
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("1"));
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("2"));
        _cache.TryGet(B("k"), out var current);
        var older = new StoreOptions(0, 0) { CompareCas = current.Cas - 1 };

        Assert.That(_cache.Store(StoreMode.Set, B("k"), B("3"), older, out _), Is.EqualTo(StoreResult.Exists));
        Assert.That(_cache.Store(StoreMode.Set, B("k"), B("3"), older with { Invalidate = true }, out _), Is.EqualTo(StoreResult.Stored));
        _cache.TryGet(B("k"), new ReadOptions(), out var item, out var metadata);
        Assert.That((Encoding.ASCII.GetString(item.Value), metadata.Stale), Is.EqualTo(("3", true)));
        var newer = new StoreOptions(0, 0) { CompareCas = item.Cas + 1, Invalidate = true };
        Assert.That(_cache.Store(StoreMode.Set, B("k"), B("4"), newer, out _), Is.EqualTo(StoreResult.Exists));
    }

    [Test]
    public void Vivify_on_a_miss_creates_and_publishes_an_empty_item_that_one_reader_wins()
    {
        var options = new ReadOptions { VivifyExptime = 30 };
        Assert.That(_cache.TryGet(B("k"), options, out var created, out var first), Is.EqualTo(ReadResult.Hit));
        Assert.That((created.Value.Length, first.Won), Is.EqualTo((0, true)));
        Assert.That(_changes.All[^1], Has.Property(nameof(CacheChange.Kind)).EqualTo(CacheChangeKind.Store)
            .And.Property(nameof(CacheChange.ExpiresAt)).EqualTo(_clock.UnixSeconds + 30));

        _cache.TryGet(B("k"), options, out _, out var second);
        Assert.That((second.Won, second.WinTokenSentBefore), Is.EqualTo((false, true)));
    }

    [Test]
    public void Recache_is_won_once_when_the_remaining_ttl_is_below_the_threshold()
    {
        _cache.Store(StoreMode.Set, B("k"), 0, 100, B("v"));
        _cache.TryGet(B("k"), new ReadOptions { RecacheBelowSeconds = 50 }, out _, out var early);
        _clock.AdvanceSeconds(60);
        _cache.TryGet(B("k"), new ReadOptions { RecacheBelowSeconds = 50 }, out _, out var late);
        _cache.TryGet(B("k"), new ReadOptions { RecacheBelowSeconds = 50 }, out _, out var later);
        Assert.That((early.Won, late.Won, later.Won, later.WinTokenSentBefore), Is.EqualTo((false, true, false, true)));
    }

    [Test]
    public void Fetched_mark_and_statistics_follow_the_read_options()
    {
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("v"));
        _cache.TryGet(B("k"), new ReadOptions { Inspect = true }, out _, out _);
        _cache.TryGet(B("k"), new ReadOptions { NoBump = true }, out _, out var afterNoBump);
        _cache.TryGet(B("k"), new ReadOptions(), out _, out var afterRead);
        _cache.TryGet(B("k"), new ReadOptions { Inspect = true }, out _, out var inspected);
        Assert.That((afterNoBump.FetchedBefore, afterRead.FetchedBefore, inspected.FetchedBefore), Is.EqualTo((false, false, true)));
        Assert.That(_cache.GetStatistics().GetHits, Is.EqualTo(2), "inspection is not a get");
    }

    [Test]
    public void Increment_with_options_checks_cas_creates_and_sets_a_new_expiry()
    {
        Assert.That(_cache.Increment(B("n"), new ArithmeticOptions(1, false) { CreateWith = 10, CreateExptime = 20 }, out var created),
            Is.EqualTo(ArithmeticResult.Updated));
        Assert.That((Encoding.ASCII.GetString(created.Value), created.ExpiresAt), Is.EqualTo(("10", _clock.UnixSeconds + 20)));

        Assert.That(_cache.Increment(B("n"), new ArithmeticOptions(1, false) { CompareCas = created.Cas + 1 }, out _),
            Is.EqualTo(ArithmeticResult.Exists));
        Assert.That(_cache.Increment(B("n"), new ArithmeticOptions(5, true) { CompareCas = created.Cas, UpdateExptime = 100 }, out var updated),
            Is.EqualTo(ArithmeticResult.Updated));
        Assert.That((Encoding.ASCII.GetString(updated.Value), updated.ExpiresAt), Is.EqualTo(("5 ", _clock.UnixSeconds + 100)));
        Assert.That(_changes.All[^1], Has.Property(nameof(CacheChange.Kind)).EqualTo(CacheChangeKind.Store)
            .And.Property(nameof(CacheChange.ExpiresAt)).EqualTo(_clock.UnixSeconds + 100));
    }
}

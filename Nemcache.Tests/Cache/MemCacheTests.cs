using System.Text;
using Moq;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Cache;

[TestFixture]
public sealed partial class MemCacheTests
{
    private ManualTimeProvider _clock = null!;
    private MemCache _cache = null!;
    private RecordingObserver _changes = null!;

    [SetUp]
    public void CreateCache()
    {
        _clock = new ManualTimeProvider();
        _cache = new MemCache(new CacheOptions(), _clock);
        _changes = new RecordingObserver();
        _cache.Subscribe(_changes);
    }

    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private string? Get(string key) => _cache.TryGet(B(key), out var item) ? Encoding.ASCII.GetString(item.Value) : null;

    [Test]
    public void Store_modes_follow_memcached()
    {
        Assert.That(_cache.Store(StoreMode.Replace, B("k"), 0, 0, B("r")), Is.EqualTo(StoreResult.NotStored));
        Assert.That(_cache.Store(StoreMode.Append, B("k"), 0, 0, B("a")), Is.EqualTo(StoreResult.NotStored));
        Assert.That(_cache.Store(StoreMode.Add, B("k"), 3, 0, B("1")), Is.EqualTo(StoreResult.Stored));
        Assert.That(_cache.Store(StoreMode.Add, B("k"), 0, 0, B("2")), Is.EqualTo(StoreResult.NotStored));
        Assert.That(_cache.Store(StoreMode.Append, B("k"), 9, 0, B("3")), Is.EqualTo(StoreResult.Stored));
        Assert.That(_cache.Store(StoreMode.Prepend, B("k"), 9, 0, B("0")), Is.EqualTo(StoreResult.Stored));
        Assert.That(_cache.TryGet(B("k"), out var item), Is.True);
        Assert.That(Encoding.ASCII.GetString(item.Value), Is.EqualTo("013"));
        Assert.That(item.Flags, Is.EqualTo(3u), "append and prepend keep the flags");
        Assert.That(_cache.Store(StoreMode.Replace, B("k"), 4, 0, B("r")), Is.EqualTo(StoreResult.Stored));
        Assert.That(Get("k"), Is.EqualTo("r"));
    }

    [Test]
    public void Cas_unique_changes_on_every_modification_and_guards_cas()
    {
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("1"));
        _cache.TryGet(B("k"), out var first);
        Assert.That(_cache.Store(StoreMode.Cas, B("k"), 0, 0, B("2"), first.Cas + 1), Is.EqualTo(StoreResult.Exists));
        Assert.That(_cache.Store(StoreMode.Cas, B("k"), 0, 0, B("2"), first.Cas), Is.EqualTo(StoreResult.Stored));
        Assert.That(_cache.Store(StoreMode.Cas, B("k"), 0, 0, B("3"), first.Cas), Is.EqualTo(StoreResult.Exists));
        Assert.That(_cache.Store(StoreMode.Cas, B("missing"), 0, 0, B("3"), 1), Is.EqualTo(StoreResult.NotFound));
        _cache.TryGet(B("k"), out var second);
        _cache.Increment(B("k"), 1, decrement: false, out var third);
        Assert.That(new[] { first.Cas, second.Cas, third.Cas }, Is.Unique.And.Ordered);
        Assert.That(_cache.Touch(B("k"), 100), Is.EqualTo(TouchResult.Touched));
        _cache.TryGet(B("k"), out var touched);
        Assert.That(touched.Cas, Is.EqualTo(third.Cas), "touch changes only the expiry");
    }

    [Test]
    public void Exptime_follows_memcached_rules()
    {
        var now = _clock.UnixSeconds;
        _cache.Store(StoreMode.Set, B("never"), 0, 0, B("x"));
        _cache.Store(StoreMode.Set, B("relative"), 0, 10, B("x"));
        _cache.Store(StoreMode.Set, B("thirty-days"), 0, CacheLimits.MaxRelativeExpirySeconds, B("x"));
        _cache.Store(StoreMode.Set, B("absolute"), 0, now + 20, B("x"));
        _cache.Store(StoreMode.Set, B("absolute-past"), 0, now - 5, B("x"));
        _cache.Store(StoreMode.Set, B("negative"), 0, -1, B("x"));

        _cache.TryGet(B("thirty-days"), out var thirty);
        Assert.That(thirty.ExpiresAt, Is.EqualTo(now + CacheLimits.MaxRelativeExpirySeconds));
        Assert.That(Get("absolute-past"), Is.Null);
        Assert.That(Get("negative"), Is.Null);

        _clock.AdvanceSeconds(10);
        Assert.That(Get("relative"), Is.Null, "expires at exactly now + exptime");
        Assert.That(Get("absolute"), Is.EqualTo("x"));
        _clock.AdvanceSeconds(10);
        Assert.That(Get("absolute"), Is.Null);
        Assert.That(Get("never"), Is.EqualTo("x"));
        Assert.That(_changes.Kinds(CacheChangeKind.Evict), Is.EqualTo(2), "expired items found on access are reclaimed");
    }

    [Test]
    public void Incr_and_decr_follow_memcached()
    {
        _cache.Store(StoreMode.Set, B("n"), 5, 0, B("10"));
        Assert.That(_cache.Increment(B("n"), 1, decrement: true, out var nine), Is.EqualTo(ArithmeticResult.Updated));
        Assert.That(Encoding.ASCII.GetString(nine.Value), Is.EqualTo("9 "), "memcached pads an in-place decr with spaces");
        Assert.That(nine.Flags, Is.EqualTo(5u));
        _cache.Increment(B("n"), 100, decrement: true, out var zero);
        Assert.That(Encoding.ASCII.GetString(zero.Value).Trim(), Is.EqualTo("0"), "decr stops at 0");
        _cache.Store(StoreMode.Set, B("max"), 0, 0, B(ulong.MaxValue.ToString()));
        _cache.Increment(B("max"), 2, decrement: false, out var wrapped);
        Assert.That(Encoding.ASCII.GetString(wrapped.Value).Trim(), Is.EqualTo("1"), "incr wraps at 2^64");
        _cache.Store(StoreMode.Set, B("text"), 0, 0, B("12a"));
        Assert.That(_cache.Increment(B("text"), 1, decrement: false, out _), Is.EqualTo(ArithmeticResult.NonNumeric));
        Assert.That(_cache.Increment(B("missing"), 1, decrement: false, out _), Is.EqualTo(ArithmeticResult.NotFound));
        Assert.That(_cache.Increment(B("created"), 1, decrement: false, out var created, createWith: 42), Is.EqualTo(ArithmeticResult.Updated));
        Assert.That(Encoding.ASCII.GetString(created.Value), Is.EqualTo("42"));
    }

    [Test]
    public void The_bytes_counted_against_the_limit_follow_every_kind_of_change()
    {
        long Expected(params (string Key, int ValueLength)[] items) =>
            items.Sum(i => i.Key.Length + i.ValueLength + CacheLimits.ItemOverheadBytes);
        void Check(long expected)
        {
            Assert.That(_cache.UsedBytes, Is.EqualTo(expected));
            Assert.That(_cache.GetStatistics().Bytes, Is.EqualTo(expected));
        }

        _cache.Store(StoreMode.Set, B("a"), 0, 0, B("xyz"));
        _cache.Store(StoreMode.Set, B("bb"), 0, 0, B("1"));
        Check(Expected(("a", 3), ("bb", 1)));
        _cache.Store(StoreMode.Append, B("a"), 0, 0, B("!!"));
        _cache.Increment(B("bb"), 99, decrement: false, out _);
        Check(Expected(("a", 5), ("bb", 3)));
        _cache.Delete(B("a"));
        Check(Expected(("bb", 3)));
        _cache.RestoreItem(B("c"), B("vv"), 0, 0);
        Check(Expected(("bb", 3), ("c", 2)));
        _cache.FlushAll();
        Check(0);
    }

    [Test]
    public void Delayed_flush_empties_everything_stored_before_its_time_and_nothing_after()
    {
        _cache.Store(StoreMode.Set, B("before"), 0, 0, B("x"));
        _cache.FlushAll(delay: 10);
        _clock.AdvanceSeconds(5);
        _cache.Store(StoreMode.Set, B("during"), 0, 0, B("x"));
        Assert.That(Get("before"), Is.EqualTo("x"));
        Assert.That(_cache.PendingFlushAt, Is.EqualTo(_clock.UnixSeconds + 5));
        _clock.AdvanceSeconds(5);
        Assert.That(Get("before"), Is.Null);
        Assert.That(Get("during"), Is.Null);
        _cache.Store(StoreMode.Set, B("after"), 0, 0, B("x"));
        Assert.That(Get("after"), Is.EqualTo("x"));
        Assert.That(_cache.PendingFlushAt, Is.Null);

        var flushes = _changes.All.Where(c => c.Kind == CacheChangeKind.Flush).Select(c => (c.FlushAt, c.Delayed)).ToList();
        Assert.That(flushes, Is.EqualTo(new[] { (_clock.UnixSeconds, true), (_clock.UnixSeconds, false) }),
            "a pending flush is published as delayed with its time, then again, immediate, when carried out");
    }

    [Test]
    public void Immediate_flush_cancels_a_pending_one()
    {
        _cache.FlushAll(delay: 100);
        _cache.FlushAll();
        _cache.Store(StoreMode.Set, B("k"), 0, 0, B("x"));
        _clock.AdvanceSeconds(200);
        Assert.That(Get("k"), Is.EqualTo("x"));
    }

    [Test]
    public void Memory_limit_evicts_least_recently_used_first_and_publishes_a_capacity_eviction()
    {
        var cache = new MemCache(new CacheOptions { MemoryLimitBytes = 100 * 1024, MaxItemSize = 2048 }, _clock);
        var changes = new RecordingObserver();
        cache.Subscribe(changes);
        var value = new byte[1000];
        for (var i = 0; i < 90; i++)
        {
            cache.Store(StoreMode.Set, B($"k{i}"), 0, 0, value);
            _clock.Advance(TimeSpan.FromMilliseconds(1)); // distinct LRU times across shards
        }
        // Fewer items are added after the read than there are older ones to evict.
        cache.TryGet(B("k0"), out _);
        for (var i = 90; i < 150; i++)
        {
            cache.Store(StoreMode.Set, B($"k{i}"), 0, 0, value);
        }
        var stats = cache.GetStatistics();
        Assert.That(stats.Bytes, Is.LessThanOrEqualTo(100 * 1024));
        Assert.That(stats.Evictions, Is.GreaterThan(0));
        Assert.That(cache.TryGet(B("k0"), out _), Is.True, "recently read item survives");
        Assert.That(cache.TryGet(B("k1"), out _), Is.False, "oldest unread item went first");
        Assert.That(cache.TryGet(B("k149"), out _), Is.True);
        Assert.That(changes.All.Count(c => c is { Kind: CacheChangeKind.Evict, Reason: EvictionReason.Capacity }), Is.EqualTo(stats.Evictions));
    }

    [Test]
    public void Observer_sees_each_change_with_the_whole_item_in_order()
    {
        var observer = new Mock<ICacheObserver>(MockBehavior.Strict);
        var sequence = new MockSequence();
        observer.InSequence(sequence).Setup(o => o.OnChange(It.Is<CacheChange>(c =>
            c.Kind == CacheChangeKind.Store && c.Flags == 7 && c.Value.Length == 1))).Verifiable();
        observer.InSequence(sequence).Setup(o => o.OnChange(It.Is<CacheChange>(c =>
            c.Kind == CacheChangeKind.Store && Encoding.ASCII.GetString(c.Value) == "ab"))).Verifiable();
        observer.InSequence(sequence).Setup(o => o.OnChange(It.Is<CacheChange>(c =>
            c.Kind == CacheChangeKind.Touch && c.ExpiresAt == _clock.UnixSeconds + 60))).Verifiable();
        observer.InSequence(sequence).Setup(o => o.OnChange(It.Is<CacheChange>(c => c.Kind == CacheChangeKind.Delete))).Verifiable();
        observer.InSequence(sequence).Setup(o => o.OnChange(It.Is<CacheChange>(c => c.Kind == CacheChangeKind.Flush))).Verifiable();
        _cache.Subscribe(observer.Object);

        _cache.Store(StoreMode.Set, B("k"), 7, 0, B("a"));
        _cache.Store(StoreMode.Append, B("k"), 0, 0, B("b"));
        _cache.Touch(B("k"), 60);
        _cache.Delete(B("k"));
        _cache.FlushAll();

        observer.Verify();
    }

    [Test]
    public void Throwing_observer_neither_undoes_the_change_nor_stops_the_others()
    {
        var cache = new MemCache(new CacheOptions(), _clock);
        var after = new RecordingObserver();
        cache.Subscribe(new FailingObserver());
        cache.Subscribe(after);

        Assert.That(cache.Store(StoreMode.Set, B("k"), 0, 0, B("v")), Is.EqualTo(StoreResult.Stored));
        Assert.That(cache.TryGet(B("k"), out _), Is.True);
        Assert.That(after.All, Has.Count.EqualTo(1));
        Assert.That(cache.GetStatistics().ObserverFailures, Is.EqualTo(1));
    }

    [Test]
    public void Concurrent_increments_of_one_key_lose_nothing()
    {
        var cache = new MemCache(new CacheOptions());
        cache.Store(StoreMode.Set, B("counter"), 0, 0, B("0"));
        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 5000; i++)
            {
                cache.Increment(B("counter"), 1, decrement: false, out _);
            }
        });
        cache.TryGet(B("counter"), out var item);
        Assert.That(Encoding.ASCII.GetString(item.Value), Is.EqualTo("40000"));
    }

    [Test]
    public void Restore_path_assigns_fresh_cas_skips_expired_and_does_not_notify()
    {
        var now = _clock.UnixSeconds;
        Assert.That(_cache.RestoreItem(B("a"), B("1"), 3, now + 100), Is.True);
        Assert.That(_cache.RestoreItem(B("b"), B("2"), 0, now - 1), Is.False);
        _cache.RestoreFlushDeadline(now + 50);
        Assert.That(_changes.All, Is.Empty);
        _cache.TryGet(B("a"), out var a);
        Assert.That((a.Flags, a.ExpiresAt), Is.EqualTo((3u, now + 100)));
        Assert.That(_cache.PendingFlushAt, Is.EqualTo(now + 50));
    }

    [Test]
    public void Restore_remove_hands_back_the_item_expired_or_not_and_does_not_notify()
    {
        var now = _clock.UnixSeconds;
        _cache.RestoreItem(B("a"), B("1"), 3, now + 5, cas: 42);
        _clock.AdvanceSeconds(10);

        Assert.That(_cache.RestoreRemove(B("a"), out var removed), Is.True);
        Assert.That((Encoding.ASCII.GetString(removed.Value), removed.Flags, removed.ExpiresAt, removed.Cas), Is.EqualTo(("1", 3u, now + 5, 42UL)));
        Assert.That(_cache.RestoreRemove(B("a"), out _), Is.False);
        Assert.That(_cache.CountItems(), Is.Zero);
        Assert.That(_cache.UsedBytes, Is.Zero);
        Assert.That(_changes.All, Is.Empty);
    }

    [Test]
    public void Restore_touch_sets_the_expiry_keeps_the_cas_and_does_not_notify()
    {
        var now = _clock.UnixSeconds;
        _cache.RestoreItem(B("a"), B("1"), 0, now + 5, cas: 42);
        _cache.RestoreItem(B("b"), B("2"), 0, 0);

        Assert.That(_cache.RestoreTouch(B("a"), now + 500), Is.True);
        Assert.That(_cache.RestoreTouch(B("missing"), now + 500), Is.False);
        _clock.AdvanceSeconds(10);
        Assert.That(_cache.TryGet(B("a"), out var a), Is.True);
        Assert.That((a.ExpiresAt, a.Cas), Is.EqualTo((now + 500, 42UL)));
        Assert.That(_changes.All, Is.Empty);

        // It becomes the most recently used, as a touch does: under memory pressure "b" goes first. The LRU clock moves
        // between the steps: items used in the same millisecond tie, and the keys may sit in different shards.
        var fresh = new MemCache(new CacheOptions { MemoryLimitBytes = 1 << 20 }, _clock);
        var third = new byte[(1 << 20) / 3 - CacheLimits.ItemOverheadBytes - 1];
        fresh.RestoreItem(B("a"), third, 0, 0);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        fresh.RestoreItem(B("b"), third, 0, 0);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        fresh.RestoreTouch(B("a"), 0);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        fresh.RestoreItem(B("c"), third, 0, 0);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        fresh.RestoreItem(B("d"), third, 0, 0);
        Assert.That(fresh.TryGet(B("a"), out _), Is.True);
        Assert.That(fresh.TryGet(B("b"), out _), Is.False);
    }

    [Test]
    public void Reclaim_expired_removes_expired_items_nobody_asked_for()
    {
        for (var i = 0; i < 100; i++)
        {
            _cache.Store(StoreMode.Set, B($"short{i}"), 0, 5, B("x"));
            _cache.Store(StoreMode.Set, B($"long{i}"), 0, 500, B("x"));
        }
        _clock.AdvanceSeconds(6);
        Assert.That(_cache.ReclaimExpired(), Is.EqualTo(100));
        Assert.That(_cache.GetStatistics().CurrentItems, Is.EqualTo(100));
    }

    [Test]
    public void Keys_are_compared_byte_exact()
    {
        _cache.Store(StoreMode.Set, [0x10, 0x10, 0x41], 0, 0, B("ctl"));
        _cache.Store(StoreMode.Set, B("a"), 0, 0, B("lower"));
        _cache.Store(StoreMode.Set, B("A"), 0, 0, B("upper"));
        Assert.That(Get("a"), Is.EqualTo("lower"));
        Assert.That(Get("A"), Is.EqualTo("upper"));
        Assert.That(_cache.TryGet([0x10, 0x10, 0x41], out _), Is.True);
        Assert.Throws<ArgumentException>(() => _cache.Store(StoreMode.Set, new byte[251], 0, 0, B("x")));
    }

    private sealed class FailingObserver : ICacheObserver
    {
        public void OnChange(in CacheChange change) => throw new IOException("disk gone");
    }

    private sealed class RecordingObserver : ICacheObserver
    {
        private readonly List<CacheChange> _all = [];

        public List<CacheChange> All
        {
            get { lock (_all) return [.. _all]; }
        }

        public int Kinds(CacheChangeKind kind) => All.Count(c => c.Kind == kind);

        public void OnChange(in CacheChange change)
        {
            lock (_all) _all.Add(change);
        }
    }
}

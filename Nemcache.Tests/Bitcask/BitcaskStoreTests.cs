using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

public class BitcaskStoreTests : BitcaskTestBase
{
    private readonly List<BitcaskStore> _stores = [];

    [TearDown]
    public async Task CloseStores()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
        _stores.Clear();
    }

    [Test]
    public async Task The_cache_comes_back_after_a_restart()
    {
        var (cache, store) = Start();
        cache.Store(StoreMode.Set, B("plain"), 1, 0, B("value"));
        cache.Store(StoreMode.Set, B("expiring"), 2, 100, B("soon"));
        cache.Store(StoreMode.Set, B("deleted"), 0, 0, B("x"));
        cache.Delete(B("deleted"));
        cache.Touch(B("expiring"), 1000);
        cache.Store(StoreMode.Set, B("counter"), 0, 0, B("41"));
        cache.Increment(B("counter"), 1, decrement: false, out _);
        cache.Store(StoreMode.Append, B("plain"), 0, 0, B("-more"));
        await store.CommitAsync();
        await Stop(store);

        (cache, _) = Start();

        Assert.That(cache.TryGet(B("plain"), out var plain), Is.True);
        Assert.That(cache.TryGet(B("expiring"), out var expiring), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(plain.Value), Is.EqualTo("value-more"));
            Assert.That(plain.Flags, Is.EqualTo(1u));
            Assert.That(expiring.ExpiresAt, Is.EqualTo(Clock.UnixSeconds + 1000));
            Assert.That(cache.TryGet(B("deleted"), out _), Is.False);
            Assert.That(cache.TryGet(B("counter"), out var counter) ? Encoding.UTF8.GetString(counter.Value) : null, Is.EqualTo("42"));
        });
    }

    [Test]
    public async Task A_capacity_eviction_is_a_tombstone_and_an_expiry_eviction_writes_nothing()
    {
        var small = new CacheOptions { MemoryLimitBytes = 2000, MaxItemSize = 1024 };
        var (cache, store) = Start(small);
        cache.Store(StoreMode.Set, B("first"), 0, 0, new byte[700]);
        cache.Store(StoreMode.Set, B("second"), 0, 0, new byte[700]);
        cache.Store(StoreMode.Set, B("third"), 0, 0, new byte[700]);
        cache.Store(StoreMode.Set, B("brief"), 0, 5, B("b"));
        var held = new List<string>();
        foreach (var key in new[] { "first", "second", "third" })
        {
            if (cache.TryGet(B(key), out _))
            {
                held.Add(key);
            }
        }
        Assert.That(held, Has.Count.EqualTo(2), "one was evicted for room");
        Clock.AdvanceSeconds(10);
        var before = DataFileLength();
        cache.ReclaimExpired();
        Assert.That(DataFileLength(), Is.EqualTo(before), "expiry needs no record");
        await Stop(store);

        (cache, _) = Start(new CacheOptions());

        Assert.Multiple(() =>
        {
            foreach (var key in new[] { "first", "second", "third" })
            {
                Assert.That(cache.TryGet(B(key), out _), Is.EqualTo(held.Contains(key)), key);
            }
            Assert.That(cache.TryGet(B("brief"), out _), Is.False);
        });
    }

    [Test]
    public async Task Keys_a_smaller_cache_evicts_while_restoring_stay_gone()
    {
        var (cache, store) = Start();
        for (var i = 0; i < 10; i++)
        {
            cache.Store(StoreMode.Set, B("key" + i), 0, 0, new byte[700]);
        }
        await Stop(store);
        (cache, store) = Start(new CacheOptions { MemoryLimitBytes = 3000, MaxItemSize = 1024 });
        var held = cache.GetStatistics().CurrentItems;
        Assert.That(held, Is.InRange(1, 9));
        await Stop(store);

        (cache, _) = Start();

        Assert.That(cache.GetStatistics().CurrentItems, Is.EqualTo(held));
    }

    [Test]
    public async Task Items_larger_than_a_smaller_caches_limit_stay_on_disk_when_it_also_evicts()
    {
        var (cache, store) = Start(new CacheOptions { MaxItemSize = 4096 });
        for (var i = 0; i < 10; i++)
        {
            cache.Store(StoreMode.Set, B("key" + i), 0, 0, new byte[700]);
        }
        cache.Store(StoreMode.Set, B("big"), 0, 0, new byte[2000]);
        await Stop(store);

        (cache, store) = Start(new CacheOptions { MemoryLimitBytes = 3000, MaxItemSize = 1024 });
        var held = cache.GetStatistics().CurrentItems;
        Assert.That(held, Is.InRange(1, 9), "the smaller cache evicted some");
        Assert.That(store.GetStats().Single(s => s.Key == "bitcask_recovered_keys").Value, Is.EqualTo(held.ToString()),
            "the summary counts what the cache holds");
        await Stop(store);

        (cache, _) = Start(new CacheOptions { MaxItemSize = 4096 });
        Assert.Multiple(() =>
        {
            Assert.That(cache.TryGet(B("big"), out _), Is.True, "the item larger than -I stayed on disk");
            Assert.That(cache.GetStatistics().CurrentItems, Is.EqualTo(held + 1), "the evicted ones stay gone");
        });
    }

    [Test]
    public async Task Flush_all_now_and_later_survive_restarts()
    {
        var (cache, store) = Start();
        cache.Store(StoreMode.Set, B("before"), 0, 0, B("1"));
        cache.FlushAll();
        cache.Store(StoreMode.Set, B("after"), 0, 0, B("2"));
        cache.FlushAll(delay: 60);
        await Stop(store);

        (cache, store) = Start();
        Assert.Multiple(() =>
        {
            Assert.That(cache.TryGet(B("before"), out _), Is.False);
            Assert.That(cache.TryGet(B("after"), out _), Is.True, "the delayed flush is not due yet");
            Assert.That(cache.PendingFlushAt, Is.EqualTo(Clock.UnixSeconds + 60));
        });
        await Stop(store);

        Clock.AdvanceSeconds(61);
        (cache, _) = Start();
        Assert.Multiple(() =>
        {
            Assert.That(cache.TryGet(B("after"), out _), Is.False);
            Assert.That(cache.PendingFlushAt, Is.Null);
        });
    }

    [Test]
    public async Task A_delayed_flush_carried_out_by_the_cache_is_final()
    {
        var (cache, store) = Start();
        cache.FlushAll(delay: 60);
        Clock.AdvanceSeconds(61);
        cache.Store(StoreMode.Set, B("after"), 0, 0, B("2"));
        await Stop(store);
        Clock.AdvanceSeconds(-61);

        (cache, _) = Start();

        Assert.Multiple(() =>
        {
            Assert.That(cache.TryGet(B("after"), out _), Is.True);
            Assert.That(cache.PendingFlushAt, Is.Null);
        });
    }

    [Test]
    public async Task A_failed_write_never_throws_into_the_cache_and_fails_every_later_commit()
    {
        var (cache, store) = Start();
        cache.Store(StoreMode.Set, B("ok"), 0, 0, B("1"));
        await store.CommitAsync();
        store.Engine.Abandon();

        Assert.That(cache.Store(StoreMode.Set, B("lost"), 0, 0, B("2")), Is.EqualTo(StoreResult.Stored));
        Assert.ThrowsAsync<PersistenceException>(async () => await store.CommitAsync());
        Assert.ThrowsAsync<PersistenceException>(async () => await store.CommitAsync());
        Assert.Multiple(() =>
        {
            Assert.That(cache.GetStatistics().ObserverFailures, Is.Zero);
            Assert.That(Stat(store, "bitcask_write_failures"), Is.EqualTo("1"));
        });
    }

    [Test]
    public async Task Under_always_a_commit_waits_for_an_fsync()
    {
        var (cache, store) = Start(sync: SyncMode.Always);
        await store.CommitAsync();
        Assert.That(Stat(store, "bitcask_fsyncs"), Is.EqualTo("0"), "nothing written, nothing to sync");

        cache.Store(StoreMode.Set, B("a"), 0, 0, B("1"));
        await store.CommitAsync();

        Assert.That(Stat(store, "bitcask_fsyncs"), Is.EqualTo("1"));
    }

    [Test]
    public async Task Under_interval_the_timer_fsyncs_and_commits_do_not_wait()
    {
        var (cache, store) = Start(sync: SyncMode.Interval, interval: TimeSpan.FromMilliseconds(20));
        cache.Store(StoreMode.Set, B("a"), 0, 0, B("1"));
        await store.CommitAsync();

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Stat(store, "bitcask_fsyncs") == "0" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.That(Stat(store, "bitcask_fsyncs"), Is.EqualTo("1"));
    }

    [Test]
    public void Stats_carry_the_bitcask_prefix_and_the_recovery_figures()
    {
        var (cache, store) = Start();
        cache.Store(StoreMode.Set, B("a"), 0, 0, B("1"));

        var stats = store.GetStats().ToDictionary(s => s.Key, s => s.Value);

        Assert.Multiple(() =>
        {
            Assert.That(stats.Keys, Has.All.StartWith("bitcask_"));
            Assert.That(stats.Keys, Is.SupersetOf(new[]
            {
                "bitcask_files", "bitcask_live_bytes", "bitcask_dead_bytes", "bitcask_merges", "bitcask_recovery_ms",
                "bitcask_recovered_keys",
            }));
            Assert.That(stats["bitcask_files"], Is.EqualTo("1"));
            Assert.That(stats["bitcask_live_bytes"], Is.EqualTo(DataRecord.SizeOf(1, 1).ToString()));
        });
    }

    [Test]
    public async Task Restore_logs_one_summary_line()
    {
        var (cache, store) = Start();
        cache.Store(StoreMode.Set, B("a"), 0, 0, B("12345"));
        cache.Store(StoreMode.Set, B("b"), 0, 0, B("123"));
        await Stop(store);
        var logger = new Mock<ILogger<BitcaskStore>>();
        var lines = new List<string>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        logger.Setup(l => l.Log(LogLevel.Information, It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), null,
                (Func<It.IsAnyType, Exception?, string>)It.IsAny<object>()))
            .Callback(new InvocationAction(call => lines.Add(call.Arguments[2].ToString()!)));

        var summary = Start(logger: logger.Object, restore: false).Store.Restore(new MemCache(new CacheOptions(), Clock));

        Assert.Multiple(() =>
        {
            Assert.That(summary.Items, Is.EqualTo(2));
            Assert.That(lines, Has.One.Match(
                @"^recovered 2 keys \(10 bytes\) from 1 files in \d+ ms, 1 from hint files, 0 records skipped$"));
        });
    }

    [Test]
    public async Task While_merging_is_behind_writes_and_reads_go_on_and_the_commit_waits_for_the_merge()
    {
        Options = Options with { MaxFileBytes = 4096, MergeMinDeadBytes = 16 * 1024, MergeFragmentation = 0.5 };
        var (cache, store) = Start();
        using var mergeMayFinish = new ManualResetEventSlim();
        store.Engine.MergePhaseReached = phase =>
        {
            // Every merge passes this phase; one whose inputs hold only dead records writes no output and never
            // reaches WritingOutputs.
            if (phase == MergePhase.OutputsWritten)
            {
                mergeMayFinish.Wait(TimeSpan.FromSeconds(30));
            }
        };
        var value = new byte[200];
        // Overwrite ten keys until the commit finds merging behind: the one merge it asks for cannot finish.
        var filling = Task.Run(() =>
        {
            ValueTask commit = default;
            for (var round = 0; round < 1000 && (commit = store.CommitAsync()).IsCompleted; round++)
            {
                for (var i = 0; i < 10; i++)
                {
                    cache.Store(StoreMode.Set, B("key" + i), 0, 0, value);
                }
            }
            return commit;
        });
        Assert.That(filling.Wait(TimeSpan.FromSeconds(10)), Is.True, "a write waited for the merge");
        var commit = filling.Result;
        Assert.That(commit.IsCompleted, Is.False, "merging never fell behind");

        // Neither a write nor a read of any key waits for the merge: only commits do.
        var others = Task.Run(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                cache.Store(StoreMode.Set, B("other" + i), 0, 0, value);
                cache.TryGet(B("key" + (i % 10)), out _);
            }
        });
        Assert.That(others.Wait(TimeSpan.FromSeconds(10)), Is.True, "a write or read waited for the merge");
        Assert.That(commit.IsCompleted, Is.False);

        mergeMayFinish.Set();
        await commit.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(Stat(store, "bitcask_writer_waits"), Is.Not.EqualTo("0"));
    }

    private (MemCache Cache, BitcaskStore Store) Start(CacheOptions? cacheOptions = null, SyncMode sync = SyncMode.None,
        TimeSpan? interval = null, ILogger<BitcaskStore>? logger = null,
        bool restore = true)
    {
        var cache = new MemCache(cacheOptions ?? new CacheOptions(), Clock);
        var persistence = new PersistenceOptions
        {
            DataDirectory = DataDirectory, Sync = sync, SyncInterval = interval ?? PersistenceOptions.DefaultSyncInterval,
        };
        var store = new BitcaskStore(persistence, Options, logger ?? NullLogger<BitcaskStore>.Instance, Clock);
        _stores.Add(store);
        if (restore)
        {
            store.Restore(cache);
            cache.Subscribe(store);
        }
        return (cache, store);
    }

    private async Task Stop(BitcaskStore store)
    {
        await store.DisposeAsync();
        _stores.Remove(store);
    }

    private long DataFileLength()
    {
        var ids = DataFileIds();
        return new FileInfo(DataFilePath(ids[^1])).Length;
    }

    private static string? Stat(BitcaskStore store, string name)
    {
        foreach (var (key, value) in store.GetStats())
        {
            if (key == name)
            {
                return value;
            }
        }
        return null;
    }
}

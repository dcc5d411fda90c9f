using System.Text;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence;

/// <summary>
/// What every persistence plugin must do: after a restart the cache shows exactly what it showed before (less what
/// expired or was flushed meanwhile). Runs once per entry of <see cref="PersistenceFactories"/>.
/// </summary>
[TestFixtureSource(typeof(PersistenceFactories), nameof(PersistenceFactories.All))]
public sealed class PersistenceContractTests(PersistenceFactory factory)
{
    private const long Never = 0;

    private PersistedCache _cache = null!;

    private long Now => _cache.Time.UnixSeconds;

    [SetUp]
    public void StartCache() => _cache = new PersistedCache(factory).Start();

    [TearDown]
    public async Task RemoveCache() => await _cache.DisposeAsync();

    private async Task ReplaceCacheAsync(SyncMode sync = SyncMode.Interval, CacheOptions? cacheOptions = null)
    {
        await _cache.DisposeAsync();
        _cache = new PersistedCache(factory, sync, cacheOptions).Start();
    }

    [Test]
    public async Task An_empty_data_directory_restores_an_empty_cache()
    {
        Assert.That(_cache.LastRestore.Items, Is.Zero);
        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.Empty);
        Assert.That(_cache.LastRestore.Items, Is.Zero);
    }

    [Test]
    public async Task Sets_overwrites_and_deletes_survive_a_restart()
    {
        await _cache.SetAsync("kept", "one", flags: 7);
        await _cache.SetAsync("overwritten", "old", flags: 1, exptime: 500);
        await _cache.SetAsync("overwritten", "new", flags: 2, exptime: 900);
        await _cache.SetAsync("deleted", "gone");
        await _cache.CommittedAsync(_cache.Cache.Delete(PersistedCache.Key("deleted")));

        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(new Dictionary<string, VisibleItem>
        {
            ["kept"] = new("one", 7, Never),
            ["overwritten"] = new("new", 2, Now + 900),
        }));
        Assert.That(_cache.LastRestore.Items, Is.EqualTo(2));
        Assert.That(_cache.LastRestore.Bytes, Is.EqualTo("kept".Length + "one".Length + "overwritten".Length + "new".Length));
    }

    [Test]
    public async Task Append_prepend_incr_decr_and_cas_restore_their_results()
    {
        await _cache.SetAsync("text", "middle", flags: 3, exptime: 600);
        await _cache.CommittedAsync(_cache.Cache.Store(StoreMode.Append, PersistedCache.Key("text"), 0, 0, "-end"u8.ToArray()));
        await _cache.CommittedAsync(_cache.Cache.Store(StoreMode.Prepend, PersistedCache.Key("text"), 0, 0, "start-"u8.ToArray()));
        await _cache.SetAsync("counter", "100");
        await _cache.CommittedAsync(_cache.Cache.Increment(PersistedCache.Key("counter"), 25, decrement: false, out _));
        await _cache.CommittedAsync(_cache.Cache.Increment(PersistedCache.Key("counter"), 120, decrement: false, out _));
        await _cache.CommittedAsync(_cache.Cache.Increment(PersistedCache.Key("counter"), 145, decrement: true, out _));
        await _cache.SetAsync("swapped", "before", flags: 1);
        _cache.Cache.TryGet(PersistedCache.Key("swapped"), out var item);
        var casResult = await _cache.CommittedAsync(
            _cache.Cache.Store(StoreMode.Cas, PersistedCache.Key("swapped"), 9, 0, "after"u8.ToArray(), item.Cas));
        Assert.That(casResult, Is.EqualTo(StoreResult.Stored));

        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(new Dictionary<string, VisibleItem>
        {
            ["text"] = new("start-middle-end", 3, Now + 600),
            // decr keeps the old length, padding with spaces, as memcached does.
            ["counter"] = new("100", 0, Never),
            ["swapped"] = new("after", 9, Never),
        }));
    }

    [Test]
    public async Task Touch_and_gat_keep_the_value_and_give_the_new_expiry()
    {
        await _cache.SetAsync("touched", "value", flags: 4, exptime: 100);
        await _cache.SetAsync("gat", "other", flags: 5, exptime: 100);
        await _cache.CommittedAsync(_cache.Cache.Touch(PersistedCache.Key("touched"), 1000));
        await _cache.CommittedAsync(_cache.Cache.TryGetAndTouch(PersistedCache.Key("gat"), 0, out _));
        var expected = PersistedCache.VisibleState(_cache.Cache);

        await _cache.RestartAsync(downSeconds: 200);

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
        Assert.That(_cache["touched"], Is.EqualTo(new VisibleItem("value", 4, expected["touched"].ExpiresAt)));
        Assert.That(_cache["gat"].ExpiresAt, Is.EqualTo(Never));
    }

    [Test]
    public async Task Items_that_expire_while_the_server_is_down_are_not_restored()
    {
        await _cache.SetAsync("short", "a", exptime: 10);
        await _cache.SetAsync("long", "b", exptime: 100);
        await _cache.SetAsync("absolute", "c", exptime: Now + 40);
        await _cache.SetAsync("forever", "d");
        var expected = _cache.ExpectedAfterDowntime(50);

        await _cache.RestartAsync(downSeconds: 50);

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
        Assert.That(expected.Keys, Is.EquivalentTo(new[] { "long", "forever" }));
    }

    [Test]
    public async Task Items_that_expired_before_shutdown_are_not_restored()
    {
        await _cache.SetAsync("expires", "a", exptime: 5);
        await _cache.SetAsync("stays", "b");
        _cache.Time.AdvanceSeconds(6);

        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache).Keys, Is.EquivalentTo(new[] { "stays" }));
    }

    [Test]
    public async Task Evicted_items_do_not_come_back()
    {
        await ReplaceCacheAsync(cacheOptions: new CacheOptions { MaxItemSize = 1024, MemoryLimitBytes = 8 * 1024 });
        for (var i = 0; i < 40; i++)
        {
            await _cache.SetAsync($"key{i}", new string((char)('a' + i % 26), 600));
        }
        Assert.That(_cache.Cache.GetStatistics().Evictions, Is.GreaterThan(0));
        var expected = PersistedCache.VisibleState(_cache.Cache);

        await _cache.RestartAsync();

        Assert.That(expected, Has.Count.LessThan(40));
        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
    }

    [Test]
    public async Task A_flush_kills_what_came_before_it_and_nothing_after()
    {
        await _cache.SetAsync("before", "x");
        _cache.Cache.FlushAll();
        await _cache.SetAsync("after", "y", flags: 2);

        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(new Dictionary<string, VisibleItem>
        {
            ["after"] = new("y", 2, Never),
        }));
    }

    [Test]
    public async Task A_delayed_flush_still_pending_at_restart_is_re_armed()
    {
        await _cache.SetAsync("before", "x");
        _cache.Cache.FlushAll(delay: 100);
        var deadline = Now + 100;
        await _cache.SetAsync("meanwhile", "y");
        var expected = _cache.ExpectedAfterDowntime(30);

        await _cache.RestartAsync(downSeconds: 30);

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
        Assert.That(expected.Keys, Is.EquivalentTo(new[] { "before", "meanwhile" }));
        Assert.That(_cache.Cache.PendingFlushAt, Is.EqualTo(deadline));

        _cache.Time.AdvanceSeconds(70);
        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.Empty);
    }

    [Test]
    public async Task A_delayed_flush_whose_deadline_passes_while_down_empties_the_cache_once()
    {
        await _cache.SetAsync("before", "x");
        _cache.Cache.FlushAll(delay: 100);
        await _cache.SetAsync("meanwhile", "y");

        await _cache.RestartAsync(downSeconds: 500);

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.Empty);
        Assert.That(_cache.Cache.PendingFlushAt, Is.Null);

        // What is stored after that start is not killed again by the old deadline at the next one.
        await _cache.SetAsync("later", "z");
        await _cache.RestartAsync(downSeconds: 10);
        Assert.That(PersistedCache.VisibleState(_cache.Cache).Keys, Is.EquivalentTo(new[] { "later" }));
    }

    [Test]
    public async Task A_delayed_flush_carried_out_while_running_keeps_what_came_after_it()
    {
        await _cache.SetAsync("before", "x");
        _cache.Cache.FlushAll(delay: 10);
        _cache.Time.AdvanceSeconds(11);
        await _cache.SetAsync("after", "y");

        await _cache.RestartAsync(downSeconds: 100);

        Assert.That(PersistedCache.VisibleState(_cache.Cache).Keys, Is.EquivalentTo(new[] { "after" }));
        Assert.That(_cache.Cache.PendingFlushAt, Is.Null);
    }

    [Test]
    public async Task An_immediate_flush_cancels_a_pending_one_across_a_restart()
    {
        _cache.Cache.FlushAll(delay: 100);
        _cache.Cache.FlushAll();
        await _cache.SetAsync("after", "y");

        await _cache.RestartAsync(downSeconds: 500);

        Assert.That(PersistedCache.VisibleState(_cache.Cache).Keys, Is.EquivalentTo(new[] { "after" }));
    }

    [Test]
    public async Task Cas_uniques_are_unique_after_a_restart()
    {
        for (var i = 0; i < 20; i++)
        {
            await _cache.SetAsync($"key{i}", "v");
        }

        await _cache.RestartAsync();
        await _cache.SetAsync("new", "v");

        var uniques = new List<ulong>();
        foreach (var item in _cache.Cache.SnapshotItems())
        {
            uniques.Add(item.Cas);
        }
        Assert.That(uniques, Has.Count.EqualTo(21));
        Assert.That(uniques, Is.Unique);
    }

    [Test]
    public async Task Restarts_in_the_middle_of_a_sequence_keep_every_step()
    {
        await _cache.SetAsync("a", "1", exptime: 300);
        await _cache.RestartAsync(downSeconds: 5);
        await _cache.CommittedAsync(_cache.Cache.Store(StoreMode.Append, PersistedCache.Key("a"), 0, 0, "2"u8.ToArray()));
        await _cache.SetAsync("b", "x");
        await _cache.RestartAsync(downSeconds: 5);
        await _cache.CommittedAsync(_cache.Cache.Delete(PersistedCache.Key("b")));
        await _cache.CommittedAsync(_cache.Cache.Touch(PersistedCache.Key("a"), 50));
        var expected = _cache.ExpectedAfterDowntime(5);
        await _cache.RestartAsync(downSeconds: 5);

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
        Assert.That(_cache["a"], Is.EqualTo(new VisibleItem("12", 0, Now - 5 + 50)));
    }

    [TestCase(SyncMode.Always)]
    [TestCase(SyncMode.Interval)]
    [TestCase(SyncMode.None)]
    public async Task Every_sync_mode_commits_and_restores(SyncMode sync)
    {
        await ReplaceCacheAsync(sync);
        await _cache.SetAsync("k", "v", flags: 1);

        await _cache.RestartAsync();

        Assert.That(_cache["k"], Is.EqualTo(new VisibleItem("v", 1, Never)));
    }

    [Test]
    public async Task Concurrent_writers_restore_to_what_the_cache_held()
    {
        await ReplaceCacheAsync(SyncMode.Always);
        var cache = _cache;
        var writers = new Task[4];
        for (var w = 0; w < writers.Length; w++)
        {
            var writer = w;
            writers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < 300; i++)
                {
                    var key = PersistedCache.Key($"key{i % 40}");
                    if (i % 7 == writer)
                    {
                        cache.Cache.Delete(key);
                    }
                    else
                    {
                        cache.Cache.Store(StoreMode.Set, key, (uint)writer, 0, Encoding.UTF8.GetBytes($"{writer}:{i}"));
                    }
                    await cache.Plugin.CommitAsync();
                }
            });
        }
        await Task.WhenAll(writers);
        var expected = PersistedCache.VisibleState(_cache.Cache);

        await _cache.RestartAsync();

        Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    public async Task Random_sequences_with_restarts_restore_the_whole_visible_state(int seed)
    {
        await ReplaceCacheAsync(cacheOptions: new CacheOptions { MaxItemSize = 1024, MemoryLimitBytes = 16 * 1024 });
        var random = new Random(seed);
        for (var step = 0; step < 600; step++)
        {
            await RandomOperation(random);
            if (random.Next(60) == 0)
            {
                var down = random.Next(3) == 0 ? random.Next(1, 120) : 0;
                var expected = _cache.ExpectedAfterDowntime(down);
                var pending = _cache.Cache.PendingFlushAt;
                await _cache.RestartAsync(down);
                Assert.That(PersistedCache.VisibleState(_cache.Cache), Is.EqualTo(expected), $"after step {step}");
                Assert.That(_cache.Cache.PendingFlushAt, Is.EqualTo(pending > Now ? pending : null), $"after step {step}");
            }
        }
    }

    [Test]
    public void A_data_directory_that_cannot_be_used_stops_the_restore_with_one_line()
    {
        var notADirectory = Path.Combine(_cache.DataDirectory, "file");
        File.WriteAllText(notADirectory, "in the way");
        var plugin = factory.Create(new PersistenceOptions { DataDirectory = notADirectory }, TimeProvider.System);

        var error = Assert.Throws<PersistenceException>(() => plugin.Restore(new MemCache(new CacheOptions())));

        Assert.That(error!.Message, Does.Contain(notADirectory));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }

    private async Task RandomOperation(Random random)
    {
        var cache = _cache.Cache;
        var key = PersistedCache.Key($"k{random.Next(30)}");
        var value = Encoding.UTF8.GetBytes(new string('v', random.Next(0, 400)) + random.Next(1000));
        var exptime = random.Next(4) == 0 ? random.Next(1, 60) : 0;
        switch (random.Next(14))
        {
            case 0 or 1 or 2 or 3:
                cache.Store(StoreMode.Set, key, (uint)random.Next(), exptime, value);
                break;
            case 4:
                cache.Store(StoreMode.Add, key, 1, exptime, value);
                break;
            case 5:
                cache.Store(StoreMode.Append, key, 0, 0, "+"u8.ToArray());
                break;
            case 6:
                cache.Delete(key);
                break;
            case 7:
                cache.Touch(key, random.Next(0, 90));
                break;
            case 8:
                cache.Store(StoreMode.Set, key, 0, 0, Encoding.UTF8.GetBytes(random.Next(1000).ToString()));
                cache.Increment(key, (ulong)random.Next(50), decrement: random.Next(2) == 0, out _);
                break;
            case 9:
                if (cache.TryGet(key, out var item))
                {
                    cache.Store(StoreMode.Cas, key, 5, exptime, value, random.Next(2) == 0 ? item.Cas : item.Cas + 1);
                }
                break;
            case 10:
                cache.TryGetAndTouch(key, random.Next(0, 90), out _);
                break;
            case 11:
                if (random.Next(8) == 0)
                {
                    cache.FlushAll(random.Next(2) == 0 ? 0 : random.Next(1, 40));
                }
                break;
            case 12:
                _cache.Time.AdvanceSeconds(random.Next(1, 10));
                break;
            case 13:
                cache.ReclaimExpired();
                break;
        }
        await _cache.Plugin.CommitAsync();
    }
}

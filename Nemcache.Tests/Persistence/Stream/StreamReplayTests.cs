using System.Text;
using Google.Protobuf;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;
using Nemcache.Tests.Support;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>
/// A restore applies the log's records straight to the cache; what it leaves must be what the log's map of last items
/// (<see cref="StreamLogContents"/>) says: expired stores revived by a later touch, flushes in their place in the log.
/// </summary>
public sealed class StreamReplayTests : StreamArchiverFixture
{
    private ulong _sequence;

    private long Now => Server.Time.UnixSeconds;

    private async Task<Dictionary<string, VisibleItem>> RestoreAsync(IEnumerable<LogRecord> records)
    {
        await Server.StopAsync();
        using (var writer = StreamLogWriter.Create(LogPath))
        {
            foreach (var record in records)
            {
                writer.Append(record);
            }
            writer.WritePending();
        }
        Server.Start();
        return PersistedCache.VisibleState(Server.Cache);
    }

    private LogRecord Store(string key, string value, long expiresAt = 0, ulong cas = 0) =>
        LogRecord.ForItem(new CacheItem(PersistedCache.Key(key), Encoding.UTF8.GetBytes(value), 0, expiresAt, cas), ++_sequence);

    private LogRecord Touch(string key, long expiresAt) =>
        new() { Sequence = ++_sequence, Touch = new TouchRecord { Key = ByteString.CopyFromUtf8(key), ExpiresAt = expiresAt } };

    private LogRecord Remove(string key) =>
        new() { Sequence = ++_sequence, Remove = new RemoveRecord { Key = ByteString.CopyFromUtf8(key) } };

    private LogRecord Flush(long at, bool pending) => LogRecord.ForFlush(at, pending, ++_sequence);

    [Test]
    public async Task A_touch_revives_a_store_whose_expiry_had_passed_with_its_value_and_cas()
    {
        var state = await RestoreAsync([
            Store("expired-then-touched", "a", Now - 10, cas: 77),
            Touch("expired-then-touched", Now + 100),
            Store("touched-dead-then-alive", "b", Now + 100),
            Touch("touched-dead-then-alive", Now - 5),
            Touch("touched-dead-then-alive", Now + 200),
            Store("expired", "c", Now - 10),
            Store("touched-dead", "d"),
            Touch("touched-dead", Now - 1),
            Store("expired-removed-touched", "e", Now - 10),
            Remove("expired-removed-touched"),
            Touch("expired-removed-touched", Now + 100),
            Store("expired-replaced", "f", Now - 10),
            Store("expired-replaced", "g"),
            Store("live-replaced-by-expired", "h"),
            Store("live-replaced-by-expired", "i", Now - 10),
        ]);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "expired-then-touched", "touched-dead-then-alive", "expired-replaced" }));
        Assert.That(state["expired-then-touched"], Is.EqualTo(new VisibleItem("a", 0, Now + 100)));
        Assert.That(state["touched-dead-then-alive"], Is.EqualTo(new VisibleItem("b", 0, Now + 200)));
        Assert.That(state["expired-replaced"].Value, Is.EqualTo("g"));
        Assert.That(Server.Cache.SnapshotItems().Single(i => Encoding.UTF8.GetString(i.Key) == "expired-then-touched").Cas, Is.EqualTo(77UL));
        Assert.That(Server.LastRestore.Items, Is.EqualTo(3));
        Assert.That(Server.LastRestore.Bytes, Is.EqualTo("expired-then-touched".Length + "touched-dead-then-alive".Length + "expired-replaced".Length + 3));
    }

    [Test]
    public async Task An_immediate_flush_drops_what_came_before_it_and_keeps_what_came_after()
    {
        var state = await RestoreAsync([
            Store("before", "a"),
            Store("expired-before", "b", Now - 10),
            Flush(Now - 1, pending: false),
            Touch("expired-before", Now + 100),
            Store("after", "c"),
        ]);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "after" }));
        Assert.That(Server.Cache.PendingFlushAt, Is.Null);
        Assert.That(Server.Cache.CountItems(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_pending_flush_is_rearmed_for_every_item_and_an_immediate_one_after_it_cancels_it()
    {
        var state = await RestoreAsync([Store("before", "a"), Flush(Now + 100, pending: true), Store("after", "b")]);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "before", "after" }));
        Assert.That(Server.Cache.PendingFlushAt, Is.EqualTo(Now + 100));

        state = await RestoreAsync([Flush(Now + 100, pending: true), Store("a", "a"), Flush(Now - 1, pending: false), Store("b", "b")]);

        Assert.That(state.Keys, Is.EquivalentTo(new[] { "b" }));
        Assert.That(Server.Cache.PendingFlushAt, Is.Null);
    }

    [Test]
    public async Task A_pending_flush_whose_deadline_passed_while_down_empties_the_cache_stores_after_it_included()
    {
        var state = await RestoreAsync([Store("before", "a"), Flush(Now - 1, pending: true), Store("after", "b")]);

        Assert.That(state, Is.Empty);
        Assert.That(Server.Cache.CountItems(), Is.Zero);
        Assert.That(Server.LastRestore.Items, Is.Zero);

        // The marker the restore appended keeps the next start from applying that deadline to new items.
        await Server.SetAsync("new", "c");
        await Server.RestartAsync();
        Assert.That(PersistedCache.VisibleState(Server.Cache).Keys, Is.EquivalentTo(new[] { "new" }));
    }

    [Test]
    public async Task A_log_larger_than_the_memory_limit_keeps_the_items_written_last_as_the_running_cache_would()
    {
        var options = new CacheOptions { MemoryLimitBytes = 1 << 20 };
        await ReplaceServerAsync(cacheOptions: options);
        var large = new string('x', 300_000);
        string[] writes = ["a", "b", "c", "a", "d", "e", "b", "f"];

        var state = await RestoreAsync(writes.Select(key => Store(key, large)));

        // Three fit; the cache that takes the same writes in the same order evicts the same ones.
        var running = new MemCache(options, new ManualTimeProvider());
        foreach (var key in writes)
        {
            running.Store(StoreMode.Set, PersistedCache.Key(key), 0, 0, Encoding.UTF8.GetBytes(large));
        }
        Assert.That(state.Keys, Is.EquivalentTo(PersistedCache.VisibleState(running).Keys));
        Assert.That(state, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_random_log_restores_to_what_its_map_of_last_items_holds()
    {
        var random = new Random(14);
        var records = new List<LogRecord>();
        for (var i = 0; i < 20_000; i++)
        {
            var key = $"k{random.Next(500)}";
            var expiresAt = random.Next(4) switch { 0 => 0, 1 => Now - random.Next(1, 100), _ => Now + random.Next(1, 1000) };
            records.Add(random.Next(100) switch
            {
                < 60 => Store(key, $"v{i}", expiresAt, cas: (ulong)i + 1),
                < 75 => Remove(key),
                < 99 => Touch(key, expiresAt),
                _ => Flush(random.Next(2) == 0 ? Now - 1 : Now + 1000, pending: random.Next(2) == 0),
            });
        }
        records.Add(Flush(Now - 1, pending: false));
        records.AddRange(records.Where(r => r.ChangeCase != LogRecord.ChangeOneofCase.Flush).Take(5_000).ToList().Select(r => { var copy = r.Clone(); copy.Sequence = ++_sequence; return copy; }).ToList());

        var state = await RestoreAsync(records);

        var contents = StreamLogContents.Read(Server.DataDirectory);
        var expected = contents.Items
            .Where(i => !ExpiryClock.HasExpired(i.ExpiresAt, Now))
            .ToDictionary(i => Encoding.UTF8.GetString(i.Key), i => new VisibleItem(Encoding.UTF8.GetString(i.Value), i.Flags, i.ExpiresAt));
        Assert.That(expected, Is.Not.Empty);
        Assert.That(state, Is.EquivalentTo(expected));
        Assert.That(Server.Cache.CountItems(), Is.EqualTo(expected.Count));
        var casByKey = contents.Items.ToDictionary(i => Encoding.UTF8.GetString(i.Key), i => i.Cas);
        Assert.That(Server.Cache.SnapshotItems().All(i => casByKey[Encoding.UTF8.GetString(i.Key)] == i.Cas), Is.True);
    }
}

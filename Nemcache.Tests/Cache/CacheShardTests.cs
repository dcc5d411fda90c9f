using System.Runtime.CompilerServices;
using System.Text;
using Nemcache.Storage.Cache;

namespace Nemcache.Tests.Cache;

/// <summary>The shard's own table: slots reused through the free list, growth, LRU links by slot number, the slot's size.</summary>
[TestFixture]
public sealed class CacheShardTests
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static CacheShard NewShard() => new(new CacheMemory(long.MaxValue), new AccessClock(TimeProvider.System));

    private static int Find(CacheShard shard, string key) => shard.Find(B(key), ByteKeyComparer.Hash(B(key)));

    private static int Add(CacheShard shard, string key, byte[] value) => shard.Add(B(key), ByteKeyComparer.Hash(B(key)), value);

    private static List<string> KeysNewestFirst(CacheShard shard)
    {
        var keys = new List<string>();
        for (var slot = shard.Newest; slot != CacheShard.None; slot = shard[slot].Older)
        {
            keys.Add(Encoding.ASCII.GetString(shard[slot].Key));
        }
        return keys;
    }

    [Test]
    public void An_entry_slot_is_56_bytes() => Assert.That(Unsafe.SizeOf<CacheEntry>(), Is.EqualTo(56));

    [Test]
    public void Keys_are_found_across_growth_and_removal_and_freed_slots_are_reused()
    {
        var shard = NewShard();
        for (var i = 0; i < 5000; i++)
        {
            Add(shard, $"k{i}", B($"v{i}"));
        }
        for (var i = 0; i < 5000; i += 2)
        {
            shard.Remove(Find(shard, $"k{i}"));
        }
        var highest = 0;
        for (var i = 0; i < 2500; i++)
        {
            highest = Math.Max(highest, Add(shard, $"n{i}", B("x")));
        }

        Assert.That(highest, Is.LessThan(5000), "new entries take the freed slots");
        Assert.That(shard.Count, Is.EqualTo(5000));
        for (var i = 0; i < 5000; i++)
        {
            var slot = Find(shard, $"k{i}");
            Assert.That(slot == CacheShard.None, Is.EqualTo(i % 2 == 0), $"k{i}");
            if (slot != CacheShard.None)
            {
                Assert.That(shard[slot].Value, Is.EqualTo(B($"v{i}")));
            }
        }
        Assert.That(Find(shard, "n2499"), Is.Not.EqualTo(CacheShard.None));
    }

    [Test]
    public void The_lru_order_follows_use_and_survives_removal()
    {
        var shard = NewShard();
        var a = Add(shard, "a", []);
        Add(shard, "b", []);
        var c = Add(shard, "c", []);
        shard.MarkUsed(a);
        shard.Remove(c);
        Add(shard, "d", []);

        Assert.That(KeysNewestFirst(shard), Is.EqualTo(new[] { "d", "a", "b" }));
        Assert.That(Encoding.ASCII.GetString(shard[shard.Oldest].Key), Is.EqualTo("b"));
        Assert.That(shard.OldestAccessHint, Is.EqualTo(shard[shard.Oldest].LastAccess));
    }

    [Test]
    public void Clear_empties_the_shard_and_its_bytes()
    {
        var memory = new CacheMemory(long.MaxValue);
        var shard = new CacheShard(memory, new AccessClock(TimeProvider.System));
        Add(shard, "a", B("1"));
        shard.Clear();

        Assert.That((shard.Count, shard.Newest, shard.Oldest, Find(shard, "a")),
            Is.EqualTo((0, CacheShard.None, CacheShard.None, CacheShard.None)));
        Assert.That((shard.Counters.Bytes, memory.UsedBytes, shard.OldestAccessHint), Is.EqualTo((0L, 0L, long.MaxValue)));
        Add(shard, "a", B("2"));
        Assert.That(shard[Find(shard, "a")].Value, Is.EqualTo(B("2")));
    }

    [Test]
    public void An_expiry_past_the_32_bit_range_is_held_as_its_last_second()
    {
        var entry = new CacheEntry { ExpiresAt = CacheLimits.LatestExpiry + 1000 };
        Assert.That(entry.ExpiresAt, Is.EqualTo(CacheLimits.LatestExpiry));
        entry.ExpiresAt = 1_800_000_000;
        Assert.That(entry.ExpiresAt, Is.EqualTo(1_800_000_000L));
    }
}

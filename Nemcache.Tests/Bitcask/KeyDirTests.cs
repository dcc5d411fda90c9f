using System.Runtime.CompilerServices;
using System.Text;
using Nemcache.Storage.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>The keydir's own hash table, checked against a dictionary doing the same operations.</summary>
public class KeyDirTests
{
    private static byte[] Key(int i) => Encoding.ASCII.GetBytes($"key:{i}");

    private static KeyDirEntry Entry(int i) => new() { FileId = i % 7, ValueSize = i, ValueOffset = i * 3L, Seq = i, ExpiresAt = i * 5L };

    [Test]
    public void An_entry_is_28_bytes_so_that_a_slot_is_40() => Assert.That(Unsafe.SizeOf<KeyDirEntry>(), Is.EqualTo(28));

    [Test]
    public void An_expiry_past_the_32_bit_range_is_held_as_its_last_second()
    {
        var entry = new KeyDirEntry { ExpiresAt = long.MaxValue };
        Assert.That(entry.ExpiresAt, Is.EqualTo(Nemcache.Storage.Cache.CacheLimits.LatestExpiry));
    }

    [Test]
    public void Random_adds_removes_and_updates_agree_with_a_dictionary()
    {
        var random = new Random(12345);
        var keyDir = new KeyDir();
        var model = new Dictionary<string, KeyDirEntry>();
        for (var step = 0; step < 40_000; step++)
        {
            var i = random.Next(5_000);
            var key = Key(i);
            switch (random.Next(10))
            {
                case < 6:
                    ref var entry = ref keyDir.GetOrAdd(key, out var exists);
                    Assert.That(exists, Is.EqualTo(model.ContainsKey($"key:{i}")));
                    entry = Entry(step);
                    model[$"key:{i}"] = Entry(step);
                    break;
                case < 9:
                    Assert.That(keyDir.Remove(key, out var removed), Is.EqualTo(model.Remove($"key:{i}", out var expected)));
                    Assert.That(removed, Is.EqualTo(expected));
                    break;
                default:
                    ref var found = ref keyDir.Find(key);
                    Assert.That(!Unsafe.IsNullRef(ref found), Is.EqualTo(model.ContainsKey($"key:{i}")));
                    break;
            }
        }

        Assert.That(keyDir.Count, Is.EqualTo(model.Count));
        var enumerated = new Dictionary<string, KeyDirEntry>();
        foreach (var (key, entry) in keyDir)
        {
            enumerated.Add(Encoding.ASCII.GetString(key), entry);
        }
        Assert.That(enumerated, Is.EquivalentTo(model));
        for (var i = 0; i < 5_000; i++)
        {
            Assert.That(keyDir.TryGet(Key(i), out var entry), Is.EqualTo(model.TryGetValue($"key:{i}", out var expected)));
            Assert.That(entry, Is.EqualTo(expected));
        }
    }

    [Test]
    public void Enumerates_in_insertion_order_while_nothing_is_removed()
    {
        var keyDir = new KeyDir();
        for (var i = 0; i < 5_000; i++)
        {
            keyDir.GetOrAdd(Key(i).AsSpan(), out _) = Entry(i);
        }
        var order = new List<long>();
        foreach (var (_, entry) in keyDir)
        {
            order.Add(entry.Seq);
        }
        Assert.That(order, Is.EqualTo(Enumerable.Range(0, 5_000).Select(i => (long)i)));
    }

    [Test]
    public void RemoveWhere_removes_exactly_the_picked_keys_and_Clear_empties()
    {
        var keyDir = new KeyDir();
        for (var i = 0; i < 3_000; i++)
        {
            keyDir.GetOrAdd(Key(i), out _) = Entry(i);
        }

        Assert.That(keyDir.RemoveWhere((_, entry) => entry.Seq % 3 == 0), Is.EqualTo(1_000));

        Assert.That(keyDir.Count, Is.EqualTo(2_000));
        for (var i = 0; i < 3_000; i++)
        {
            Assert.That(keyDir.TryGet(Key(i), out _), Is.EqualTo(i % 3 != 0), $"key {i}");
        }
        keyDir.Clear();
        Assert.That(keyDir.Count, Is.Zero);
        Assert.That(keyDir.TryGet(Key(1), out _), Is.False);
        keyDir.GetOrAdd(Key(1), out var exists) = Entry(1);
        Assert.That(exists, Is.False);
        Assert.That(keyDir.TryGet(Key(1), out var again) && again.Seq == 1, Is.True);
    }
}

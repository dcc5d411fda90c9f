using Google.Protobuf;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>Each store record keeps its item's CAS: a restart, a compaction and a touch leave an unchanged item's token
/// valid, and a log written before records had the field still loads.</summary>
public sealed class StreamCasTests : StreamArchiverFixture
{
    [Test]
    public async Task An_unchanged_item_keeps_its_cas_across_a_restart_a_touch_and_a_compaction()
    {
        for (var i = 0; i < 3; i++)
        {
            await Server.SetAsync("other", $"version {i}");
        }
        await Server.SetAsync("kept", "value");
        var token = Cas("kept");
        await Server.CommittedAsync(Server.Cache.Touch(PersistedCache.Key("kept"), 600));
        await Server.RestartAsync();
        Assert.That(Cas("kept"), Is.EqualTo(token), "after a restart");

        await Server.Plugin.CompactAsync();
        await Server.RestartAsync();
        Assert.That(Cas("kept"), Is.EqualTo(token), "after a compaction and a restart");
        Assert.That(Server.Cache.Store(StoreMode.Cas, PersistedCache.Key("kept"), 0, 0, "new"u8.ToArray(), token),
            Is.EqualTo(StoreResult.Stored));
    }

    [Test]
    public async Task A_record_without_a_cas_restores_with_a_fresh_unique_of_this_run()
    {
        await Server.StopAsync();
        using (var writer = StreamLogWriter.Create(LogPath))
        {
            writer.Append(new LogRecord
            {
                Sequence = 1,
                Store = new StoreRecord { Key = ByteString.CopyFromUtf8("old"), Value = ByteString.CopyFromUtf8("format") },
            });
            writer.WritePending();
        }

        Server.Start();

        Assert.That(Server["old"].Value, Is.EqualTo("format"));
        var epoch = Cas("old") >> CasSequence.CounterBits;
        await Server.SetAsync("new", "x");
        Assert.That(Cas("new") >> CasSequence.CounterBits, Is.EqualTo(epoch), "the fresh unique lies in this run's epoch");
        Assert.That(Cas("old"), Is.Not.Zero.And.Not.EqualTo(Cas("new")));
    }

    private ulong Cas(string key)
    {
        Assert.That(Server.Cache.TryGet(PersistedCache.Key(key), out var item), Is.True, key);
        return item.Cas;
    }
}

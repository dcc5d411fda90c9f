using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// One failure model: a failed write or a failed fsync sets <see cref="BitcaskStore.Failure"/> (the host refuses
/// mutations) until a repair from the cache has succeeded, and a repair during which another write failed does not
/// clear it.
/// </summary>
public sealed class BitcaskFailureTests : BitcaskTestBase
{
    private static readonly TimeSpan RepairDeadline = TimeSpan.FromSeconds(10);

    private BitcaskStore? _store;

    [TearDown]
    public async Task CloseStore()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    private (MemCache Cache, BitcaskStore Store) Start(SyncMode sync)
    {
        var cache = new MemCache(new CacheOptions(), Clock);
        var persistence = new PersistenceOptions
        {
            DataDirectory = DataDirectory, Sync = sync, SyncInterval = TimeSpan.FromMilliseconds(20),
        };
        _store = new BitcaskStore(persistence, Options, NullLogger<BitcaskStore>.Instance, Clock);
        _store.Restore(cache);
        cache.Subscribe(_store);
        return (cache, _store);
    }

    private static async Task WaitUntilRepaired(BitcaskStore store)
    {
        var deadline = DateTime.UtcNow + RepairDeadline;
        while (store.Failure is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.That(store.Failure, Is.Null, "the repair succeeds once the disk works again");
    }

    [Test]
    public async Task A_failed_fsync_is_sticky_until_a_repair_succeeds()
    {
        var (cache, store) = Start(SyncMode.Always);
        var failing = true;
        store.Engine.FsyncStarting = () =>
        {
            if (Volatile.Read(ref failing))
            {
                throw new IOException("Input/output error");
            }
        };
        cache.Store(StoreMode.Set, B("k"), 0, 0, B("v"));

        Assert.ThrowsAsync<PersistenceException>(async () => await store.CommitAsync());
        Assert.That(store.Failure, Is.Not.Null, "an fsync failure counts as a failed write");
        // Even once fsync works again, the pages it may have dropped are not back: commits fail until the repair.
        Volatile.Write(ref failing, false);
        await WaitUntilRepaired(store);
        await store.CommitAsync();
    }

    [Test]
    public async Task A_failed_interval_fsync_sets_the_failure_too()
    {
        var (cache, store) = Start(SyncMode.Interval);
        var failing = 1;
        store.Engine.FsyncStarting = () =>
        {
            if (Volatile.Read(ref failing) == 1)
            {
                throw new IOException("Input/output error");
            }
        };
        cache.Store(StoreMode.Set, B("k"), 0, 0, B("v"));
        await store.CommitAsync();

        var deadline = DateTime.UtcNow + RepairDeadline;
        while (store.Failure is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.That(store.Failure, Is.Not.Null, "the timer's failed fsync is a failed write");
        Volatile.Write(ref failing, 0);
        await WaitUntilRepaired(store);
    }

    [Test]
    public async Task A_write_that_fails_while_the_repair_runs_keeps_the_failure()
    {
        var (cache, store) = Start(SyncMode.None);
        cache.Store(StoreMode.Set, B("gone"), 0, 0, B("x"));
        for (var i = 0; i < 10; i++)
        {
            cache.Store(StoreMode.Set, B("k" + i), 0, 0, B("v"));
        }
        var engine = store.Engine;
        var phase = 0; // 0: the next put fails; 1: repairing, tombstones fail; 2: the disk works
        var secondFailure = new ManualResetEventSlim();
        var secondWriteStarted = 0;
        engine.AppendStarting = type =>
        {
            switch (Volatile.Read(ref phase))
            {
                case 0:
                    Volatile.Write(ref phase, 1);
                    throw new IOException("No space left on device");
                case 1 when type == RecordType.Tombstone:
                    secondFailure.Set();
                    throw new IOException("No space left on device");
                case 1 when type == RecordType.Put && Interlocked.Exchange(ref secondWriteStarted, 1) == 0:
                    // Another thread's write (an eviction's tombstone, say) arrives while the repair rewrites.
                    _ = Task.Run(() => store.OnChange(CacheChange.Deleted(B("gone"))));
                    break;
            }
        };
        // The repair's fsync waits for that write to fail, so that it fails before the repair would finish.
        engine.FsyncStarting = () =>
        {
            if (Volatile.Read(ref phase) == 1)
            {
                secondFailure.Wait(RepairDeadline);
            }
        };

        cache.Store(StoreMode.Set, B("k0"), 0, 0, B("w"));
        Assert.That(store.Failure, Is.Not.Null);
        Assert.That(secondFailure.Wait(RepairDeadline), Is.True, "the repair ran");
        await Task.Delay(300);
        Assert.That(store.Failure, Is.Not.Null, "a repair during which a write failed does not clear the failure");

        Volatile.Write(ref phase, 2);
        await WaitUntilRepaired(store);
    }
}

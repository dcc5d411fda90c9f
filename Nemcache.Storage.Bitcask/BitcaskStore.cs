using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// The persistence plugin that keeps the cache in a <see cref="Bitcask"/> (NEMCACHE_USE_BITCASK=1): cache changes
/// become engine records, and at startup the engine's live items become cache items again.
/// <para>
/// A failed write never throws into the cache. It is remembered, and from then on every <see cref="CommitAsync"/>
/// fails, because a commit promises that every change received so far is durable and the failed one never will be;
/// a restart reloads what the disk holds.
/// </para>
/// </summary>
public sealed class BitcaskStore : ICachePersistence
{
    private readonly PersistenceOptions _persistence;
    private readonly BitcaskOptions _options;
    private readonly ILogger<BitcaskStore> _logger;
    private readonly TimeProvider _time;
    private Bitcask? _engine;
    private readonly FailureLatch _failures;
    private IRestorableCache? _cache;
    private int _repairing;
    private volatile bool _disposed;
    private RestoreSummary? _lastRestore;

    /// <param name="time">The cache's clock: the engine's expiry and flush deadlines are measured against it.</param>
    public BitcaskStore(PersistenceOptions persistence, BitcaskOptions options, ILogger<BitcaskStore> logger,
        TimeProvider? time = null)
    {
        options.Validate();
        _persistence = persistence;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _failures = new FailureLatch(OutageBegan);
    }

    private static readonly TimeSpan RepairRetryInterval = TimeSpan.FromSeconds(1);

    public string Name => "bitcask";

    /// <summary>Set by a failed write or fsync and kept until the files have been repaired from the cache
    /// (<see cref="FailureLatch"/> holds the rule).</summary>
    public string? Failure => _failures.Current?.Message;

    /// <summary>The engine, once <see cref="Restore"/> has opened it; for the host's merge trigger.</summary>
    public Bitcask Engine => _engine ?? throw new InvalidOperationException("BitcaskStore.Restore has not run yet.");

    public Task CompactAsync() => Engine.MergeAsync();

    public RestoreSummary Restore(IRestorableCache cache)
    {
        _cache = cache;
        var started = Stopwatch.GetTimestamp();
        var engine = Bitcask.Open(_persistence, _options, _logger, _time, _failures);
        _engine = engine;
        cache.UseCasSequence(CasEpochFile.Start(_persistence.DataDirectory, _logger));

        cache.EnsureCapacity(engine.GetStatistics().Keys);
        var (items, bytes, damaged, refused) = LoadInParallel(engine, cache);
        if (engine.PendingFlushAt is { } flushAt)
        {
            cache.RestoreFlushDeadline(flushAt);
        }
        if (cache.CountItems() < items)
        {
            items -= ForgetEvictedDuringRestore(cache, engine, refused);
        }
        // What the restore wrote (those tombstones, a flush carried out at the start) reaches the OS before any client
        // is served, as it did before records waited for a commit.
        engine.WritePending();

        var recovery = engine.LastRecovery;
        var elapsed = Stopwatch.GetElapsedTime(started);
        var skipped = recovery.RecordsSkipped + damaged;
        _logger.LogInformation(
            "recovered {Keys} keys ({Bytes} bytes) from {Files} files in {Milliseconds} ms, {HintFiles} from hint files, {Skipped} records skipped",
            items, bytes, recovery.Files, (long)elapsed.TotalMilliseconds, recovery.FilesFromHints, skipped);
        var details = string.Create(CultureInfo.InvariantCulture,
            $"{recovery.Files} files, {recovery.FilesFromHints} from hint files, {skipped} records skipped, {recovery.TornTails} torn tails");
        _lastRestore = new RestoreSummary(items, bytes, elapsed, details);
        return _lastRestore;
    }

    /// <summary>
    /// Takes the cache's state as the engine's: a flush marker retires whatever the directory's data files held (the
    /// next merge drops them), every live item is written anew, a pending delayed flush is scheduled again, and the
    /// new files and the directory are fsynced before this returns.
    /// </summary>
    public RestoreSummary Adopt(IRestorableCache cache)
    {
        _cache = cache;
        var started = Stopwatch.GetTimestamp();
        var engine = Bitcask.Open(_persistence, _options, _logger, _time, _failures);
        _engine = engine;
        if (engine.LastRecovery.Files > 0)
        {
            engine.Flush();
        }
        long items = 0, bytes = 0;
        cache.VisitItemsInOrder(item =>
        {
            engine.Put(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas);
            items++;
            bytes += item.Key.Length + item.Value.Length;
        });
        if (cache.PendingFlushAt is { } flushAt)
        {
            engine.ScheduleFlush(flushAt);
        }
        engine.SyncAsync().AsTask().GetAwaiter().GetResult();
        try
        {
            DirectorySync.Flush(engine.DirectoryPath);
        }
        catch (IOException ex)
        {
            throw new PersistenceException($"Data directory {engine.DirectoryPath} cannot be used: {ex.Message}", ex);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        _logger.LogInformation("wrote {Keys} keys ({Bytes} bytes) from the cache as new data files in {Milliseconds} ms",
            items, bytes, (long)elapsed.TotalMilliseconds);
        _lastRestore = new RestoreSummary(items, bytes, elapsed,
            string.Create(CultureInfo.InvariantCulture, $"{items} keys written from the cache"));
        return _lastRestore;
    }

    /// <summary>Data files, their hints, merge outputs and MERGE are the engine's; LOCK and PLUGIN are the directory's.</summary>
    public bool OwnsFile(string fileName) =>
        fileName == BitcaskFormat.MergeCommitFileName ||
        fileName.StartsWith(BitcaskFormat.DataPrefix, StringComparison.Ordinal) ||
        fileName.StartsWith(BitcaskFormat.MergeOutputPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Reads the live values (one thread, front to back through the files) while another thread stores them in the
    /// cache, in the same order, so that restore takes about as long as the slower of the two rather than their sum.
    /// </summary>
    /// <returns>Also the keys the cache refused (larger than its item size limit, or expired): they were never in
    /// the cache, so no eviction took them, and they stay on disk.</returns>
    private static (long Items, long Bytes, int Damaged, HashSet<byte[]> Refused) LoadInParallel(Bitcask engine, IRestorableCache cache)
    {
        const int BatchSize = 1024;
        var batches = new BlockingCollection<List<BitcaskItem>>(boundedCapacity: 64);
        long items = 0, bytes = 0;
        var refused = new HashSet<byte[]>(ByteKeyComparer.Instance);
        var storing = Task.Run([MethodImpl(RestoreHotPath.Compile)] () =>
        {
            try
            {
                foreach (var batch in batches.GetConsumingEnumerable())
                {
                    foreach (var item in batch)
                    {
                        if (cache.RestoreItem(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas))
                        {
                            items++;
                            bytes += item.Key.Length + item.Value.Length;
                        }
                        else
                        {
                            refused.Add(item.Key);
                        }
                    }
                }
            }
            catch
            {
                // Unblock the reader, which would otherwise wait forever on a full queue.
                batches.CompleteAdding();
                throw;
            }
        });

        var damaged = 0;
        var pending = new List<BitcaskItem>(BatchSize);
        try
        {
            damaged = engine.ForEachLive([MethodImpl(RestoreHotPath.Compile)] (item) =>
            {
                pending.Add(item);
                if (pending.Count == BatchSize)
                {
                    batches.Add(pending);
                    pending = new List<BitcaskItem>(BatchSize);
                }
            });
            batches.Add(pending);
        }
        catch (InvalidOperationException) when (storing.IsFaulted || batches.IsAddingCompleted)
        {
            // The storing side failed and closed the queue; its exception, rethrown below, is the one to report.
        }
        finally
        {
            batches.CompleteAdding();
        }
        storing.GetAwaiter().GetResult();
        return (items, bytes, damaged, refused);
    }

    /// <summary>
    /// A cache smaller than the data evicts while it is restored, before the store is subscribed and could hear of
    /// it. Tombstones for those keys keep the promise that a restart restores what the cache held rather than more.
    /// Returns how many keys were forgotten.
    /// </summary>
    private int ForgetEvictedDuringRestore(IRestorableCache cache, Bitcask engine, HashSet<byte[]> refused)
    {
        var held = new HashSet<byte[]>(ByteKeyComparer.Instance);
        foreach (var item in cache.SnapshotItems())
        {
            held.Add(item.Key);
        }
        var forgotten = 0;
        foreach (var key in engine.Keys())
        {
            if (!held.Contains(key) && !refused.Contains(key) && engine.Delete(key))
            {
                forgotten++;
            }
        }
        _logger.LogInformation("The cache evicted {Keys} restored keys for room; they are deleted on disk too", forgotten);
        return forgotten;
    }

    public void OnChange(in CacheChange change)
    {
        try
        {
            var engine = Engine;
            switch (change.Kind)
            {
                case CacheChangeKind.Store:
                    engine.Put(change.Key, change.Value, change.Flags, change.ExpiresAt, change.Cas);
                    break;
                case CacheChangeKind.Delete:
                case CacheChangeKind.Evict when change.Reason == EvictionReason.Capacity:
                    engine.Delete(change.Key);
                    break;
                case CacheChangeKind.Touch:
                    engine.Touch(change.Key, change.ExpiresAt);
                    break;
                case CacheChangeKind.Flush when change.Delayed:
                    engine.ScheduleFlush(change.FlushAt);
                    break;
                case CacheChangeKind.Flush:
                    engine.Flush();
                    break;
            }
        }
        catch (Exception ex)
        {
            _failures.Record(ex);
        }
    }

    /// <summary>
    /// The first failed write or fsync of an outage (the engine's group commit and interval timer record theirs in the
    /// same latch): from now on the files may not hold what the cache does, so <see cref="Failure"/> is set (the host
    /// refuses mutations) until a repair has rewritten them from the cache.
    /// </summary>
    private void OutageBegan(Exception ex)
    {
        _logger.LogError(ex, "Bitcask write failed; mutations are refused until the files are repaired from the cache");
        StartRepairing();
    }

    /// <summary>
    /// After a failed write the files no longer hold everything the cache does, and no one can tell which records are
    /// missing. The host refuses mutations meanwhile (see <see cref="Failure"/>), so the cache stands still; once there
    /// is room again, every live item is written anew (newer sequence numbers than anything on disk), keys the cache no
    /// longer holds get tombstones, and the failure is cleared. Tried every second until it succeeds.
    /// </summary>
    private void StartRepairing()
    {
        if (Interlocked.Exchange(ref _repairing, 1) == 0)
        {
            _ = Task.Run(RepairUntilDoneAsync);
        }
    }

    private async Task RepairUntilDoneAsync()
    {
        while (!_disposed && _failures.Current is not null)
        {
            await Task.Delay(RepairRetryInterval);
            try
            {
                await RepairAsync();
            }
            catch (Exception ex) when (ex is IOException or PersistenceException or ObjectDisposedException)
            {
                _logger.LogWarning("Bitcask repair not possible yet: {Message}", ex.Message);
            }
        }
        Volatile.Write(ref _repairing, 0);
    }

    private async Task RepairAsync()
    {
        var repair = _failures.BeginRepair();
        var engine = Engine;
        var cache = _cache ?? throw new InvalidOperationException("BitcaskStore.Restore has not run yet.");
        var held = new HashSet<byte[]>(ByteKeyComparer.Instance);
        cache.VisitItemsInOrder(item =>
        {
            engine.Put(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas);
            held.Add(item.Key);
        });
        foreach (var key in engine.Keys())
        {
            if (!held.Contains(key))
            {
                engine.Delete(key);
            }
        }
        if (cache.PendingFlushAt is { } flushAt)
        {
            engine.ScheduleFlush(flushAt);
        }
        // Group commit refuses while the failure stands; the repair fsyncs what it wrote itself.
        await Task.Run(engine.FlushToDiskForRepair);
        // A write that failed while the repair ran (an eviction's tombstone, say) is not in the files either.
        if (!_failures.Repaired(repair))
        {
            throw new PersistenceException("another write failed while the files were being repaired");
        }
        _logger.LogWarning("Bitcask repaired after a write failure: {Items} live items written anew", held.Count);
    }

    public ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        // The batch's records reach the OS before its replies; a failed write is latched, so the check below sees it.
        Engine.WritePending();
        if (_failures.Current is { } failure)
        {
            return ValueTask.FromException(new PersistenceException($"Bitcask write failed earlier: {failure.Message}", failure));
        }
        var caughtUp = Engine.MergingCaughtUp();
        if (!caughtUp.IsCompleted)
        {
            return CommitWhenCaughtUpAsync(caughtUp, cancellationToken);
        }
        if (_persistence.Sync != SyncMode.Always)
        {
            return ValueTask.CompletedTask;
        }
        // A failed fsync is recorded in the latch by group commit itself.
        var sync = Engine.SyncAsync();
        return cancellationToken.CanBeCanceled && !sync.IsCompleted
            ? new ValueTask(sync.AsTask().WaitAsync(cancellationToken))
            : sync;
    }

    /// <summary>
    /// Backpressure: writes have outrun merging, so this commit (and with it the connection's next batch) waits until
    /// a merge has caught up. The changes are already written; only the reply waits, so no cache lock is held meanwhile.
    /// </summary>
    private async ValueTask CommitWhenCaughtUpAsync(Task caughtUp, CancellationToken cancellationToken)
    {
        await caughtUp.WaitAsync(cancellationToken);
        await CommitAsync(cancellationToken);
    }

    public IEnumerable<KeyValuePair<string, string>> GetStats()
    {
        var stats = new List<KeyValuePair<string, string>>();
        if (_engine is { } engine)
        {
            var figures = engine.GetStatistics();
            Add(stats, "bitcask_files", figures.Files);
            Add(stats, "bitcask_keys", figures.Keys);
            Add(stats, "bitcask_live_bytes", figures.LiveBytes);
            Add(stats, "bitcask_dead_bytes", figures.DeadBytes);
            Add(stats, "bitcask_merges", figures.MergesRun);
            Add(stats, "bitcask_fsyncs", figures.Fsyncs);
            Add(stats, "bitcask_directory_fsyncs", figures.DirectoryFsyncs);
            Add(stats, "bitcask_writer_waits", figures.WriterWaits);
        }
        if (_lastRestore is { } restore)
        {
            Add(stats, "bitcask_recovery_ms", (long)restore.Elapsed.TotalMilliseconds);
            Add(stats, "bitcask_recovered_keys", restore.Items);
        }
        Add(stats, "bitcask_write_failures", _failures.Count);
        return stats;
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        _engine?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void Add(List<KeyValuePair<string, string>> stats, string name, long value) =>
        stats.Add(new KeyValuePair<string, string>(name, value.ToString(CultureInfo.InvariantCulture)));
}

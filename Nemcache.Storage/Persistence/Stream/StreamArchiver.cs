using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// The default persistence plugin: appends every cache change to cachelog.bin, replays it at startup, and rewrites it
/// from the cache's state when it has grown large and mostly dead. docs/persistence.md describes the format and the
/// promises.
/// <para>
/// One type, because one lock orders the appends, the sequence and the swap of a compacted log; its files split it by
/// concern: this one opens the data directory and the log (restore, adopt, damage set aside), reports stats and
/// closes; StreamArchiver.Writes.cs is the write path (records, commits, failures); StreamArchiver.Compaction.cs
/// decides when the log is compacted and swaps the compacted log in. <see cref="IntervalSync"/> runs the interval
/// fsync.
/// </para>
/// </summary>
public sealed partial class StreamArchiver : ICachePersistence
{
    private readonly PersistenceOptions _persistence;
    private readonly StreamArchiverOptions _options;
    private readonly ILogger<StreamArchiver> _logger;
    private readonly string _logPath;
    private readonly FailureLatch _failures;
    private readonly GroupSync _groupSync;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Serializes appends, the sequence, and swapping in a compacted log.</summary>
    private readonly Lock _gate = new();

    /// <summary>Held by every fsync of the log, and by a compaction's swap until the new log is durable under its name,
    /// so that no fsync acknowledges a record the durable log may miss. Taken before <see cref="_gate"/> when both are.</summary>
    private readonly Lock _syncGate = new();

    private IRestorableCache? _cache;
    private StreamLogWriter? _writer;
    private ulong _sequence;
    private DataDirectoryLock? _lock;
    private Task _background = Task.CompletedTask;
    private Task? _compaction;
    private long _recordsWritten;
    private long _compactions;
    private RestoreSummary? _lastRestore;
    private bool _holdsDamage;
    private LogSizeBound _bound;
    private int _checkQueued;

    /// <summary>The log's length with its pending records, for the lock-free check in <see cref="CommitAsync"/>;
    /// written under <see cref="_gate"/>.</summary>
    private long _logLength;

    /// <summary>Records appended, and how many of them the last write-out covered; written under <see cref="_gate"/>.</summary>
    private long _appended, _writtenOut;
    private int _disposed;

    public StreamArchiver(PersistenceOptions persistence, StreamArchiverOptions options, ILogger<StreamArchiver> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CompactBytes, StreamLogFormat.HeaderSize);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.CompactionCheckInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(persistence.SyncInterval, TimeSpan.Zero);
        _persistence = persistence;
        _options = options;
        _logger = logger;
        _logPath = Path.Combine(persistence.DataDirectory, StreamLogFormat.LogFileName);
        _bound = LogSizeBound.For(0, options.CompactBytes);
        _failures = new FailureLatch(LogOutage);
        _groupSync = new GroupSync(SyncCurrentLog, _failures);
    }

    public string Name => "stream";

    public string? Failure => _failures.Current?.Message;

    /// <summary>Called at each phase of a compaction; tests copy the data directory there to see what a crash at that
    /// point would leave.</summary>
    internal Action<CompactionPhase>? CompactionPhaseReached { get; set; }

    /// <summary>Makes the current log act as if the disk had <paramref name="bytesLeft"/> bytes free; a compaction
    /// writes a new file, which is not limited.</summary>
    internal void SimulateDiskFull(long bytesLeft)
    {
        lock (_gate)
        {
            _writer!.SpaceLeft = bytesLeft;
        }
    }

    /// <summary>Makes the next fsync of the current log fail with an I/O error.</summary>
    internal void SimulateFailingFsync()
    {
        lock (_gate)
        {
            _writer!.FailNextSync = true;
        }
    }

    public RestoreSummary Restore(IRestorableCache cache) => Open(cache, RestoreLocked);

    /// <summary>Takes the cache's state as the log's: a new cachelog.bin, written beside the old one and renamed over
    /// it once fsynced, replaces whatever log the directory held.</summary>
    public RestoreSummary Adopt(IRestorableCache cache) => Open(cache, AdoptLocked);

    /// <summary>The log holds the plugin's state; LOCK and PLUGIN are the directory's, and a compaction file left by a
    /// crash is deleted at every start.</summary>
    public bool OwnsFile(string fileName) => fileName == StreamLogFormat.LogFileName;

    private RestoreSummary Open(IRestorableCache cache, Func<IRestorableCache, long, RestoreSummary> load)
    {
        if (_cache is not null)
        {
            throw new InvalidOperationException("Restore or Adopt runs once, before Subscribe.");
        }
        var started = Stopwatch.GetTimestamp();
        CreateDirectory();
        _lock = DataDirectoryLock.Acquire(_persistence.DataDirectory);
        try
        {
            RemoveUnfinishedCompaction();
            return load(cache, started);
        }
        catch
        {
            // A refused start must not keep the directory from the next attempt.
            _lock.Dispose();
            _lock = null;
            throw;
        }
    }

    private RestoreSummary RestoreLocked(IRestorableCache cache, long started)
    {
        cache.UseCasSequence(CasEpochFile.Start(_persistence.DataDirectory, _logger));

        var replay = new CacheReplay(cache);
        LogScan scan;
        try
        {
            scan = replay.Read(_logPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException(OneLine($"cannot use {_logPath}: {ex.Message}"), ex);
        }
        ReportDamage(scan, SetDamageAside(scan));
        try
        {
            _writer = scan.HasHeader ? StreamLogWriter.OpenAt(_logPath, scan.GoodLength) : StreamLogWriter.Create(_logPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException(OneLine($"cannot use {_logPath}: {ex.Message}"), ex);
        }
        // The damage stays in the log until a compaction rewrites it; until then every start would report it again.
        _holdsDamage = scan.Skipped.Count > 0;
        _logLength = _writer.Length;

        _cache = cache;
        _sequence = scan.LastSequence;
        var load = replay.Finish();
        UpdateBound();
        if (load.FlushedWhileDown)
        {
            // The log still holds the pending flush and the items it killed; without this marker the next start would
            // apply that deadline again, to items stored after this start.
            lock (_gate)
            {
                Append(LogRecord.ForFlush(cache.Clock.Now, pending: false, _sequence + 1));
                WritePendingLocked();
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        _logger.LogInformation("restored {Items} items ({Bytes} bytes) from {File} in {Milliseconds} ms",
            load.Items, load.Bytes, StreamLogFormat.LogFileName, (long)elapsed.TotalMilliseconds);
        var details = $"{scan.Records} records, {scan.Skipped.Count} skipped, {scan.FileLength - scan.GoodLength} bytes dropped";
        _lastRestore = new RestoreSummary(load.Items, load.Bytes, elapsed, details);
        _background = RunBackgroundAsync(_stopping.Token);
        return _lastRestore;
    }

    private RestoreSummary AdoptLocked(IRestorableCache cache, long started)
    {
        long items = 0, bytes = 0;
        var building = Path.Combine(_persistence.DataDirectory, StreamLogFormat.CompactionFileName);
        StreamLogWriter? writer = null;
        try
        {
            writer = StreamLogWriter.Create(building);
            // Written as a compaction's snapshot is, with sequence 0: the new log has no history before it.
            if (cache.PendingFlushAt is { } deadline)
            {
                writer.Append(LogRecord.ForFlush(deadline, pending: true, 0));
            }
            foreach (var item in cache.SnapshotItems())
            {
                writer.Append(LogRecord.ForItem(item, 0));
                items++;
                bytes += item.Key.Length + item.Value.Length;
            }
            writer.Sync();
            File.Move(building, _logPath, overwrite: true);
            DirectorySync.Flush(_persistence.DataDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            writer?.Dispose();
            throw new PersistenceException(OneLine($"cannot write {_logPath}: {ex.Message}"), ex);
        }

        _writer = writer;
        _cache = cache;
        _sequence = 0;
        _logLength = writer.Length;
        UpdateBound();
        var elapsed = Stopwatch.GetElapsedTime(started);
        _logger.LogInformation("wrote {Items} items ({Bytes} bytes) from the cache as a new {File} in {Milliseconds} ms",
            items, bytes, StreamLogFormat.LogFileName, (long)elapsed.TotalMilliseconds);
        _lastRestore = new RestoreSummary(items, bytes, elapsed, $"{items} records written from the cache");
        _background = RunBackgroundAsync(_stopping.Token);
        return _lastRestore;
    }

    public IEnumerable<KeyValuePair<string, string>> GetStats()
    {
        long logBytes;
        lock (_gate)
        {
            logBytes = _writer?.Length ?? 0;
        }
        var liveBytes = Math.Min(logBytes, EstimatedLiveBytes());
        yield return Stat("stream_log_bytes", logBytes);
        yield return Stat("stream_live_bytes", liveBytes);
        yield return Stat("stream_dead_bytes", logBytes - liveBytes);
        yield return Stat("stream_records_written", Interlocked.Read(ref _recordsWritten));
        yield return Stat("stream_compactions", Interlocked.Read(ref _compactions));
        yield return Stat("stream_fsyncs", _groupSync.SyncCount);
        yield return Stat("stream_write_failures", _failures.Count);
        yield return Stat("stream_last_restore_items", _lastRestore?.Items ?? 0);
        yield return Stat("stream_last_restore_bytes", _lastRestore?.Bytes ?? 0);
        yield return Stat("stream_last_restore_ms", (long)(_lastRestore?.Elapsed.TotalMilliseconds ?? 0));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync();
        await Quietly(_background);
        Task? compaction;
        lock (_gate)
        {
            compaction = _compaction;
        }
        if (compaction is not null)
        {
            await Quietly(compaction);
        }

        StreamLogWriter? writer;
        lock (_gate)
        {
            writer = _writer;
            _writer = null;
        }
        if (writer is not null)
        {
            lock (_syncGate)
            {
                try
                {
                    writer.Sync();
                }
                catch (IOException ex)
                {
                    _logger.LogError(ex, "{File}: the final fsync failed", StreamLogFormat.LogFileName);
                }
                writer.Dispose();
            }
        }
        _lock?.Dispose();
        _stopping.Dispose();
    }

    private void CreateDirectory() => InDataDirectory(() => OwnerOnlyFiles.CreateDirectory(_persistence.DataDirectory));

    /// <summary>
    /// Creating and deleting the compaction file proves the directory writable (compaction renames in it) and removes
    /// one that a crash during compaction left behind; the log itself is whole either way. Only under the lock: the
    /// file may be a running server's compaction in progress.
    /// </summary>
    private void RemoveUnfinishedCompaction() => InDataDirectory(() =>
        StreamLogFormat.OpenFile(Path.Combine(_persistence.DataDirectory, StreamLogFormat.CompactionFileName),
            FileMode.Create, FileAccess.Write, FileOptions.DeleteOnClose).Dispose());

    /// <summary>Runs a step of opening the data directory; its failure stops startup with one line.</summary>
    private void InDataDirectory(Action step)
    {
        try
        {
            step();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException(OneLine($"data directory {_persistence.DataDirectory} cannot be used: {ex.Message}"), ex);
        }
    }

    /// <summary>
    /// Keeps every damaged byte before the log changes: the bytes a cut drops are copied out, and a log with skipped
    /// damage gets a second name, which keeps its bytes when a compaction renames the new log over it. Returns the
    /// names, for the warnings. A start that cannot do this stops rather than destroy them.
    /// </summary>
    private (string? Cut, string? Skipped) SetDamageAside(LogScan scan)
    {
        try
        {
            var cut = scan.Cut is { Length: > 0 } damage ? DamagedLogFiles.CopyTail(_logPath, damage.Offset) : null;
            var skipped = scan.Skipped.Count > 0 ? DamagedLogFiles.Link(_logPath) : null;
            return (cut, skipped);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException(OneLine(
                $"cannot set aside the damaged part of {_logPath} before repairing it: {ex.Message}"), ex);
        }
    }

    private void ReportDamage(LogScan scan, (string? Cut, string? Skipped) asides)
    {
        if (!scan.HasHeader && scan.FileLength > 0)
        {
            _logger.LogWarning("{File}: dropped a torn header of {Bytes} bytes and started a new log",
                StreamLogFormat.LogFileName, scan.FileLength);
        }
        foreach (var damage in scan.Skipped)
        {
            _logger.LogWarning("{File}: skipped a damaged record, {Damage}", StreamLogFormat.LogFileName, damage);
        }
        if (asides.Skipped is { } linked)
        {
            _logger.LogWarning("{File}: the log as it was is kept as {Aside}; the next compaction rewrites the log without the damage",
                StreamLogFormat.LogFileName, linked);
        }
        if (scan.Cut is { } cut)
        {
            _logger.LogWarning("{File}: dropped {Bytes} bytes from offset {Offset} ({Reason}); the log now ends at the last good record; the dropped bytes are kept as {Aside}",
                StreamLogFormat.LogFileName, cut.Length, cut.Offset, cut.Reason, asides.Cut);
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception ex) when (ex is OperationCanceledException or PersistenceException)
        {
        }
    }

    private static KeyValuePair<string, string> Stat(string name, long value) =>
        new(name, value.ToString(CultureInfo.InvariantCulture));

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}

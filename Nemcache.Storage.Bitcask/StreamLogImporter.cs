using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Switching an installation from the stream log to Bitcask: moves the items StreamArchiver's cachelog.bin holds into
/// the new Bitcask directory, so that the cache survives the switch. It runs once, since BitcaskStore calls it only while
/// the directory has no data file. Afterwards the log is renamed to cachelog.bin.imported, so that switching back later
/// starts from an empty log rather than from this stale one.
/// </summary>
public sealed class StreamLogImporter(ILogger logger, TimeProvider? time = null) : IBitcaskImporter
{
    public const string ImportedSuffix = ".imported";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public long Import(Bitcask engine)
    {
        var log = Path.Combine(engine.DirectoryPath, StreamLogFormat.LogFileName);
        if (!File.Exists(log))
        {
            return 0;
        }

        var replay = new StreamLogReplay();
        var scan = StreamLogReader.Read(log, replay.Apply);
        foreach (var damage in scan.Skipped)
        {
            logger.LogWarning("Import from {Log}: skipped {Damage}", StreamLogFormat.LogFileName, damage);
        }
        if (scan.Cut is { } cut)
        {
            logger.LogWarning("Import from {Log}: stopped at {Damage}", StreamLogFormat.LogFileName, cut);
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        long imported = 0;
        var flushedWhileDown = replay.PendingFlushAt is { } deadline && deadline <= now;
        if (!flushedWhileDown)
        {
            foreach (var (key, value, flags, expiresAt) in replay.Items)
            {
                if (!ExpiryClock.HasExpired(expiresAt, now))
                {
                    engine.Put(key, value, flags, expiresAt);
                    imported++;
                }
            }
            if (replay.PendingFlushAt is { } pending)
            {
                engine.ScheduleFlush(pending);
            }
        }

        // The imported records must be on disk before the log that still holds them is set aside.
        engine.SyncAsync().AsTask().GetAwaiter().GetResult();
        File.Move(log, log + ImportedSuffix, overwrite: true);
        return imported;
    }
}

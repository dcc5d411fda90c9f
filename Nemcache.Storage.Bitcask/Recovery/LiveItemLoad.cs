using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// The bulk load behind <see cref="Bitcask.ForEachLive"/>, which a restore runs: every live item, read in file and
/// offset order so that the disk is read front to back, through one read window rather than a read per value. Writes
/// and merges may go on meanwhile; a key they moved is read again through the keydir.
/// </summary>
internal static class LiveItemLoad
{
    /// <summary>Hands every live item to <paramref name="load"/>; returns how many were skipped because their record
    /// failed its CRC (those keys are dropped from the keydir, with a warning).</summary>
    [MethodImpl(RestoreHotPath.Compile)]
    public static int Run(DataFileSet files, ILogger logger, Action<BitcaskItem> load)
    {
        var live = files.SnapshotLive(out var version);
        // The keydir usually enumerates in the order its hint or data files filled it, which is already file order.
        if (!IsInFileOrder(live))
        {
            Array.Sort(live);
        }
        var skipped = 0;
        var window = new ReadWindow();
        foreach (var (key, snapshot) in live)
        {
            try
            {
                if (TryReadThroughWindow(files, window, key, snapshot, version, out var item) || TryReadLiveItem(files, key, out item))
                {
                    load(item);
                }
            }
            catch (PersistenceException ex)
            {
                logger.LogWarning("{Message}; its key is dropped", ex.Message);
                version = files.ForgetDamagedKey(key, version);
                skipped++;
            }
        }
        return skipped;
    }

    /// <summary>
    /// The fast path: the record, read through the window, while the key still points where the snapshot said. False
    /// when it moved (a merge, a write) or its file was closed: the caller takes the slow path.
    /// </summary>
    [MethodImpl(RestoreHotPath.Compile)]
    private static bool TryReadThroughWindow(DataFileSet files, ReadWindow window, byte[] key, in KeyDirEntry snapshot,
        long version, out BitcaskItem item)
    {
        item = default;
        if (!files.TryFindUnmoved(key, snapshot, version, out var file))
        {
            return false;
        }
        ReadOnlySpan<byte> record;
        try
        {
            record = window.Read(file, snapshot.RecordOffset(key.Length, file.RecordHeaderSize),
                snapshot.RecordSize(key.Length, file.RecordHeaderSize));
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        var offset = snapshot.RecordOffset(key.Length, file.RecordHeaderSize);
        var info = Bitcask.DecodePut(file, record, offset);
        item = new BitcaskItem(key, DataRecord.ValueOf(record, info).ToArray(), info.Flags, snapshot.ExpiresAt, info.Cas);
        return true;
    }

    private static bool IsInFileOrder(LiveRecord[] live)
    {
        for (var i = 1; i < live.Length; i++)
        {
            if (live[i - 1].CompareTo(live[i]) > 0)
            {
                return false;
            }
        }
        return true;
    }

    private static bool TryReadLiveItem(DataFileSet files, byte[] key, out BitcaskItem item)
    {
        if (files.TryReadLive(key, out var entry, out var record, out var info))
        {
            item = new BitcaskItem(key, DataRecord.ValueOf(record, info).ToArray(), info.Flags, entry.ExpiresAt, info.Cas);
            return true;
        }
        item = default;
        return false;
    }
}

/// <summary>A live key and where its value lies; sorts by file, then offset.</summary>
internal readonly record struct LiveRecord(byte[] Key, KeyDirEntry Entry) : IComparable<LiveRecord>
{
    public int CompareTo(LiveRecord other)
    {
        var byFile = Entry.FileId.CompareTo(other.Entry.FileId);
        return byFile != 0 ? byFile : Entry.ValueOffset.CompareTo(other.Entry.ValueOffset);
    }
}

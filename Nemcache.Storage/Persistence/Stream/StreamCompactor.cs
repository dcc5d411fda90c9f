using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>The points a compaction passes, in order; a crash between two of them leaves the state the later names.</summary>
internal enum CompactionPhase
{
    /// <summary>The compaction file exists, holding the header and possibly part of the snapshot.</summary>
    Started,
    /// <summary>The compaction file holds the whole snapshot and possibly part of the tail; it is not fsynced.</summary>
    SnapshotWritten,
    /// <summary>The compaction file holds snapshot and tail up to every record that may have been acknowledged, and is
    /// fsynced; the old log is still in place.</summary>
    Synced,
    /// <summary>The compaction file has been renamed over the log and writers append to it; neither the records copied
    /// last nor the directory are fsynced yet.</summary>
    Renamed,
}

/// <summary>
/// Builds the next log beside the live one: a snapshot of the cache, then a copy of the records the live log received
/// after the snapshot began, then an atomic rename over the live log. Until <see cref="Install"/> the live log is
/// untouched, so a crash before it leaves the old log (plus a compaction file that the next start deletes); after the
/// rename the new log is complete. The archiver decides when each step runs and under which lock
/// (StreamArchiver.Compaction.cs).
/// </summary>
internal sealed class StreamCompactor : IDisposable
{
    private const int CopyChunk = 1 << 20;

    private readonly string _directory;
    private readonly string _logPath;
    private readonly string _compactionPath;
    private readonly SafeFileHandle _source;
    private readonly StreamLogWriter _next;
    private readonly Action<CompactionPhase>? _phaseReached;
    private byte[]? _copyBuffer;
    private bool _installed;

    /// <param name="sourceStart">The live log's length when the snapshot began: records from there on are copied.</param>
    public StreamCompactor(string directory, long sourceStart, Action<CompactionPhase>? phaseReached)
    {
        _directory = directory;
        _logPath = Path.Combine(directory, StreamLogFormat.LogFileName);
        _compactionPath = Path.Combine(directory, StreamLogFormat.CompactionFileName);
        _phaseReached = phaseReached;
        _source = File.OpenHandle(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        try
        {
            _next = StreamLogWriter.Create(_compactionPath);
        }
        catch
        {
            _source.Dispose();
            throw;
        }
        Copied = sourceStart;
        _phaseReached?.Invoke(CompactionPhase.Started);
    }

    /// <summary>Where the snapshot is framed and the tail copied through.</summary>
    private byte[] CopyBuffer => _copyBuffer ??= new byte[CopyChunk];

    /// <summary>How far into the live log the copy has come.</summary>
    public long Copied { get; private set; }

    /// <summary>
    /// Writes the cache's state. Every snapshot record carries <paramref name="sequence"/>, the last sequence number
    /// the live log held when the snapshot began, so that sequence numbers never decrease along the new log.
    /// </summary>
    public void WriteSnapshot(long? pendingFlushAt, IEnumerable<CacheItem> items, ulong sequence, CancellationToken cancellationToken)
    {
        // Framed into the copy buffer and written a buffer at a time: a write per record would cost a system call per
        // item, most of a compaction's CPU when items are small, taken from the cores that serve requests.
        var buffer = CopyBuffer;
        var used = 0;
        if (pendingFlushAt is { } deadline)
        {
            used = Frame(LogRecord.ForFlush(deadline, pending: true, sequence), buffer, used);
        }
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            used = Frame(LogRecord.ForItem(item, sequence), buffer, used);
        }
        _next.AppendBytes(buffer.AsSpan(0, used));
        _phaseReached?.Invoke(CompactionPhase.SnapshotWritten);
    }

    /// <summary>Frames <paramref name="record"/> into <paramref name="buffer"/> after its first <paramref name="used"/>
    /// bytes, writing them out first when it does not fit; a record larger than the buffer is written alone. Returns
    /// how many bytes the buffer holds now.</summary>
    private int Frame(LogRecord record, byte[] buffer, int used)
    {
        var size = StreamLogFormat.FrameHeaderSize + record.CalculateSize();
        if (size > buffer.Length - used)
        {
            _next.AppendBytes(buffer.AsSpan(0, used));
            used = 0;
            if (size > buffer.Length)
            {
                _next.Append(record);
                return 0;
            }
        }
        var frame = buffer.AsSpan(used, size);
        record.WriteTo(frame[StreamLogFormat.FrameHeaderSize..]);
        StreamLogFormat.SealFrame(frame);
        return used + size;
    }

    /// <summary>Copies the live log's records from <see cref="Copied"/> up to <paramref name="end"/>, which must be the
    /// end of a whole record.</summary>
    public void CopyTail(long end)
    {
        var buffer = CopyBuffer;
        while (Copied < end)
        {
            var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - Copied));
            var read = RandomAccess.Read(_source, chunk, Copied);
            if (read == 0)
            {
                throw new IOException($"{_logPath} ended at {Copied} while compaction copied it up to {end}");
            }
            _next.AppendBytes(chunk[..read]);
            Copied += read;
        }
    }

    /// <summary>fsyncs the new log, so that the syncs at the swap have little left to do.</summary>
    public void Sync() => _next.Sync();

    /// <summary>The last fsync before <see cref="Install"/>: the caller has copied every record that may have been
    /// acknowledged, which must be on disk before the rename can make the new file the log.</summary>
    public void SyncForInstall()
    {
        _next.Sync();
        _phaseReached?.Invoke(CompactionPhase.Synced);
    }

    /// <summary>
    /// Makes the new log the log: renames it over the old one, without waiting for the disk (the caller holds the
    /// archiver's lock). Returns the writer that appends to it from here on; the caller owns it, and calls
    /// <see cref="MakeInstallDurable"/> next.
    /// </summary>
    public StreamLogWriter Install()
    {
        File.Move(_compactionPath, _logPath, overwrite: true);
        _installed = true;
        return _next;
    }

    /// <summary>fsyncs the installed log (what was copied after <see cref="SyncForInstall"/>, and what writers have
    /// appended since) and the directory (the rename): until this returns, a power loss may bring back the old log.</summary>
    public void MakeInstallDurable()
    {
        _phaseReached?.Invoke(CompactionPhase.Renamed);
        _next.Sync();
        DirectorySync.Flush(_directory);
    }

    public void Dispose()
    {
        _source.Dispose();
        if (!_installed)
        {
            _next.Dispose();
            File.Delete(_compactionPath);
        }
    }
}

using Microsoft.Win32.SafeHandles;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>Visits one record found by a scan. <paramref name="value"/> is empty when the source is a hint file.</summary>
internal delegate void RecordVisitor(in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

/// <summary>
/// What a scan found. <see cref="ValidLength"/> is where the readable records end; with <see cref="TornTail"/> the
/// bytes after it hold no intact record (an unfinished last record, or damage at the very end). <see cref="Skipped"/>
/// are the stretches the scan stepped over between intact records. Nothing is cut or rewritten: the bytes stay for
/// whoever investigates, and the engine never appends to a file it recovered.
/// </summary>
internal readonly record struct ScanResult(long ValidLength, IReadOnlyList<LogDamage> Skipped, bool TornTail);

/// <summary>
/// One numbered data file: its handle (from the engine's <see cref="FileHandleBudget"/>, kept open between reads),
/// its length and its live-byte account. Appends happen only to the active file (or a merge output being written),
/// which is pinned so that its handle is never closed; the active file's only under <see cref="DataFileSet"/>'s lock.
/// Every other file is immutable. The active file's records wait in a buffer (<see cref="AppendPending"/>) and reach
/// the file together with one write (<see cref="WritePending"/>), so that a commit costs one system call, not one per
/// record.
/// </summary>
internal sealed class DataFile : IDisposable
{
    private readonly FileHandleBudget _handles;
    private readonly PendingWrites _pending = new();
    private bool _pinned;

    private DataFile(int id, string path, FileHandleBudget handles)
    {
        Id = id;
        Path = path;
        _handles = handles;
    }

    public int Id { get; }

    public string Path { get; private set; }

    /// <summary>The random number in the header that ties hint files to this file.</summary>
    public long Stamp { get; private set; }

    /// <summary>The size of a record header in this file, which its format version decides; every file this build
    /// creates has the current version.</summary>
    public int RecordHeaderSize { get; private set; } = BitcaskFormat.RecordHeaderSize;

    /// <summary>Where the next record goes (after the pending ones); for an immutable file, its size.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes at the end of <see cref="Length"/> that are appended but not written to the file yet.</summary>
    public int PendingBytes => _pending.Length;

    /// <summary>Whether the pending records have reached the buffer's bound and should be written now.</summary>
    public bool PendingIsFull => _pending.IsFull;

    /// <summary>Bytes of put records the keydir still points at. Everything else past the header is dead.</summary>
    public long LiveBytes { get; set; }

    public long DeadBytes => Length - FileHeaderSize - LiveBytes;

    /// <summary>The lowest and highest sequence number the file holds (MinSeq is long.MaxValue while it holds none).</summary>
    public long MinSeq { get; private set; } = long.MaxValue;
    public long MaxSeq { get; private set; }

    public bool HasRecords => Length > FileHeaderSize;

    public string HintPath => Path + HintSuffix;

    /// <summary>Bookkeeping of <see cref="FileHandleBudget"/>, under its lock.</summary>
    internal SafeFileHandle? OpenHandle;
    internal int Users;
    internal long LastUse;
    internal bool IsClosed;

    /// <summary>Creates the file (owner-only), writes its header, and pins it for appending.</summary>
    public static DataFile Create(string directory, string fileName, int id, FileHandleBudget handles)
    {
        var path = System.IO.Path.Combine(directory, fileName);
        // FileStream is what can give a new file its mode; the budget reopens it as a plain handle.
        new FileStream(path, OwnerOnlyFiles.Options(System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.Read)).Dispose();
        var file = new DataFile(id, path, handles) { Stamp = Random.Shared.NextInt64() };
        try
        {
            file.Pin();
            Span<byte> header = stackalloc byte[FileHeaderSize];
            WriteFileHeader(header, DataMagic, file.Stamp);
            file.Append(header);
        }
        catch
        {
            file.Dispose();
            // A file that never got its header (a full disk) is no data file: leave no empty one behind to trip a
            // retry or the next recovery.
            File.Delete(path);
            throw;
        }
        return file;
    }

    /// <summary>Opens an existing data file; <paramref name="headerProblem"/> says why its header is not ours, if so.</summary>
    public static DataFile Open(string path, int id, FileHandleBudget handles, out string? headerProblem)
    {
        var file = new DataFile(id, path, handles);
        var handle = handles.Acquire(file);
        try
        {
            file.Length = RandomAccess.GetLength(handle);
            Span<byte> header = stackalloc byte[FileHeaderSize];
            var read = file.Length < FileHeaderSize ? 0 : RandomAccess.Read(handle, header, 0);
            ushort version = 0;
            headerProblem = read < FileHeaderSize ? "it is shorter than a file header" : CheckFileHeader(header, DataMagic, out version);
            file.Stamp = headerProblem is null ? ReadFileStamp(header) : 0;
            file.RecordHeaderSize = headerProblem is null ? RecordHeaderSizeOf(version) : BitcaskFormat.RecordHeaderSize;
        }
        finally
        {
            handles.Release(file);
        }
        return file;
    }

    /// <summary>Keeps the handle open for appends until <see cref="Unpin"/>.</summary>
    public void Pin()
    {
        _handles.Acquire(this);
        _pinned = true;
    }

    /// <summary>The file is immutable from now on; its handle may be closed when the budget needs it.</summary>
    public void Unpin()
    {
        if (_pinned)
        {
            _pinned = false;
            _handles.Release(this);
        }
    }

    /// <summary>
    /// Writes one encoded record at the end with one positional write. When the write fails part way, the file is cut
    /// back to where the record began so that the next record still starts at a record boundary.
    /// </summary>
    public void Append(ReadOnlySpan<byte> record)
    {
        WritePending();
        var handle = PinnedHandle();
        try
        {
            RandomAccess.Write(handle, record, Length);
        }
        catch
        {
            TryCutBack(handle, Length);
            throw;
        }
        Length += record.Length;
    }

    /// <summary>Puts one encoded record after the pending ones, at <see cref="Length"/>; it reaches the file at the
    /// next <see cref="WritePending"/>.</summary>
    public void AppendPending(ReadOnlySpan<byte> record)
    {
        record.CopyTo(_pending.Append(record.Length));
        Length += record.Length;
    }

    /// <summary>
    /// Writes the pending records with one positional write. When the write fails, the file is cut back to where they
    /// began and they are dropped, so that the next record still starts at a record boundary; the exception propagates.
    /// </summary>
    public void WritePending()
    {
        if (PendingBytes == 0)
        {
            return;
        }
        var start = Length - PendingBytes;
        var handle = PinnedHandle();
        try
        {
            RandomAccess.Write(handle, _pending.Bytes, start);
        }
        catch
        {
            TryCutBack(handle, start);
            Length = start;
            throw;
        }
        finally
        {
            _pending.Clear();
        }
    }

    /// <summary>Counts a record's sequence number into <see cref="MinSeq"/> and <see cref="MaxSeq"/>.</summary>
    public void NoteSeq(long seq)
    {
        if (seq < MinSeq) MinSeq = seq;
        if (seq > MaxSeq) MaxSeq = seq;
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> unless the file ends first; returns the bytes read.</summary>
    public int ReadAtMost(Span<byte> destination, long offset)
    {
        var handle = _handles.Acquire(this);
        try
        {
            var total = 0;
            while (total < destination.Length)
            {
                var n = RandomAccess.Read(handle, destination[total..], offset + total);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            return total;
        }
        finally
        {
            _handles.Release(this);
        }
    }

    public void ReadExactly(Span<byte> destination, long offset)
    {
        var handle = _handles.Acquire(this);
        try
        {
            while (!destination.IsEmpty)
            {
                var n = RandomAccess.Read(handle, destination, offset);
                if (n == 0)
                {
                    throw new EndOfStreamException($"{Path} ends before offset {offset}.");
                }
                destination = destination[n..];
                offset += n;
            }
        }
        finally
        {
            _handles.Release(this);
        }
    }

    public void FlushToDisk()
    {
        var handle = _handles.Acquire(this);
        try
        {
            RandomAccess.FlushToDisk(handle);
        }
        finally
        {
            _handles.Release(this);
        }
    }

    public void MoveTo(string path)
    {
        File.Move(Path, path, overwrite: true);
        Path = path;
    }

    /// <summary>Reads every record front to back, from the header to <see cref="Length"/>.</summary>
    public ScanResult Scan(RecordVisitor visitor)
    {
        var handle = _handles.Acquire(this);
        try
        {
            return Scan(new SequentialReader(handle, FileHeaderSize, Length), visitor);
        }
        finally
        {
            _handles.Release(this);
        }
    }

    /// <summary>
    /// Damage never costs the records after it. A record that fails its check (a bad CRC, an impossible header, a size
    /// that runs past the end) is stepped over by searching forward, byte by byte, for the next offset where a whole
    /// record with a good CRC begins; the stretch in between is reported as skipped. Only when no intact record follows
    /// is the stretch the file's tail: what an interrupted append leaves. The work is bounded: each offset costs a
    /// header check, and a CRC only where the header is plausible and the record fits in the file.
    /// </summary>
    private ScanResult Scan(SequentialReader reader, RecordVisitor visitor)
    {
        var skipped = new List<LogDamage>();
        while (reader.Remaining > 0)
        {
            var offset = reader.Position;
            var status = TryDecodeAt(reader, offset, out var info, out var record);
            if (status == DecodeStatus.Ok)
            {
                visitor(in info, DataRecord.KeyOf(record, info), DataRecord.ValueOf(record, info));
                NoteSeq(info.Seq);
                reader.MoveTo(offset + info.Size);
                continue;
            }
            // A bad CRC under a plausible header usually keeps the framing: try the next record where it says first.
            var next = status == DecodeStatus.BadCrc && IsIntactRecordAt(reader, offset + info.Size)
                ? offset + info.Size
                : FindNextIntactRecord(reader, offset + 1);
            if (next < 0)
            {
                return new ScanResult(offset, skipped, TornTail: true);
            }
            skipped.Add(new LogDamage(offset, next - offset,
                status == DecodeStatus.BadCrc ? DamageReport.ChecksumMismatch : DamageReport.UnreadableHeader));
            reader.MoveTo(next);
        }
        return new ScanResult(Length, skipped, TornTail: false);
    }

    /// <summary>Decodes the record at <paramref name="offset"/>; Incomplete when it would run past the end.</summary>
    private DecodeStatus TryDecodeAt(SequentialReader reader, long offset, out RecordInfo info, out ReadOnlySpan<byte> record)
    {
        record = default;
        reader.MoveTo(offset);
        if (!reader.TryPeek((int)Math.Min(RecordHeaderSize, reader.Remaining), out var header))
        {
            info = default;
            return DecodeStatus.Incomplete;
        }
        var status = DataRecord.Decode(header, offset, RecordHeaderSize, out info);
        if (status != DecodeStatus.Incomplete || header.Length < RecordHeaderSize)
        {
            // A record with neither key nor value (a flush marker) is its header.
            record = header;
            return status;
        }
        if (!reader.TryPeek(info.Size, out record))
        {
            return DecodeStatus.Incomplete;
        }
        return DataRecord.Decode(record, offset, RecordHeaderSize, out info);
    }

    private bool IsIntactRecordAt(SequentialReader reader, long offset) =>
        offset < Length && TryDecodeAt(reader, offset, out _, out _) == DecodeStatus.Ok;

    /// <summary>The first offset from <paramref name="from"/> on where an intact record begins, or -1.</summary>
    private long FindNextIntactRecord(SequentialReader reader, long from)
    {
        for (var offset = from; offset + RecordHeaderSize <= Length; offset++)
        {
            if (TryDecodeAt(reader, offset, out _, out _) == DecodeStatus.Ok)
            {
                return offset;
            }
        }
        return -1;
    }

    /// <summary>Closes the handle and removes the file and its hint. A positional read still running finishes first:
    /// the SafeHandle defers the close, and Unix keeps an unlinked file's bytes until the last handle goes.</summary>
    public void Delete()
    {
        Dispose();
        File.Delete(HintPath);
        File.Delete(Path);
    }

    public void Dispose() => _handles.Close(this);

    /// <summary>A pinned file's handle is never closed by the budget, so appends need not take its lock.</summary>
    private SafeFileHandle PinnedHandle() =>
        _pinned && OpenHandle is { } handle ? handle : throw new ObjectDisposedException(Path, "The file is not open for appending.");

    private static void TryCutBack(SafeFileHandle handle, long length)
    {
        try
        {
            RandomAccess.SetLength(handle, length);
        }
        catch (IOException)
        {
            // The disk refused even that; the next append overwrites from the same offset, and recovery treats
            // whatever is left past the last record as a torn tail.
        }
    }
}

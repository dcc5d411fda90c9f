using System.Buffers;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>The points between a merge's steps; a crash between any two leaves a directory that recovers correctly.</summary>
internal enum MergePhase
{
    /// <summary>The first output record is written; the outputs are incomplete merge.N files.</summary>
    WritingOutputs,
    /// <summary>Every output is complete and fsynced, still named merge.N; no commit file yet.</summary>
    OutputsWritten,
    /// <summary>MERGE is on disk: from here recovery finishes the merge.</summary>
    Committed,
    /// <summary>The outputs are renamed to data.N; the inputs still exist.</summary>
    OutputsRenamed,
    /// <summary>The keydir points into the outputs; the inputs still exist.</summary>
    KeyDirUpdated,
    /// <summary>The inputs are deleted; MERGE still exists.</summary>
    InputsDeleted,
}

/// <summary>What a merge knows of the engine when it starts.</summary>
/// <param name="OutsideMinSeq">The lowest sequence number in any file the merge leaves alone (files written later
/// only hold higher ones). A record above it that made its key dead may still hide an older record there.</param>
internal sealed record MergeSnapshot(List<DataFile> Inputs, long OutsideMinSeq, long LastFlushSeq, PendingFlush? Pending, long Now)
{
    /// <summary><see cref="RecordDropRule"/> for a record of this merge's inputs.</summary>
    public bool MayDrop(long seq) => RecordDropRule.MayDropWithoutTombstone(seq, OutsideMinSeq, LastFlushSeq);
}

/// <summary>Where a live key's put was, and where a merge wrote it (or that it expired and was dropped).</summary>
internal readonly record struct MovedKey(int FromFile, long FromValueOffset, int ToFile, long ToValueOffset, int RecordSize, bool Expired);

/// <summary>
/// One merge: rewrites the live records of the chosen immutable files into new files, then swaps them in. Records
/// keep their sequence numbers, so the outputs and inputs together recover to the same state as the inputs alone,
/// which is what makes every crash point safe until the commit file exists, and recovery finishes the job after.
/// It works through the <see cref="DataFileSet"/>'s API alone: a snapshot at the start, lookups while it copies, and
/// one swap at the end.
/// </summary>
/// <param name="phaseReached">Called as the merge reaches each phase; throwing from it stops the merge there.</param>
internal sealed class Merger(DataFileSet files, ILogger logger, Action<MergePhase> phaseReached)
{
    private readonly List<DataFile> _outputs = [];
    private readonly Dictionary<byte[], MovedKey> _moved = new(ByteKeyComparer.Instance);
    /// <summary>Keys that are dead (deleted, expired, or lost to damage) whose records in the inputs may not vanish
    /// without a tombstone (<see cref="RecordDropRule"/>), with the highest such sequence number: one tombstone each
    /// is written once the scans are done.</summary>
    private readonly Dictionary<byte[], long> _tombstones = new(ByteKeyComparer.Instance);
    private int _damagedKeys;
    private DataFile? _output;

    /// <summary>MERGE is on disk: from here a failure leaves the merge for the next start to finish.</summary>
    public bool Committed { get; private set; }

    /// <summary>The outputs have replaced the inputs, on disk and in the file set.</summary>
    public bool Finished { get; private set; }

    /// <summary>
    /// Merges every immutable file (<paramref name="all"/>) or only the fragmented ones. Returns false, having changed
    /// nothing, when a merge of only some files met damage: a record in the damaged bytes may be the tombstone that hid
    /// an older put in a file outside the merge, and no one can tell which key it was. Only a merge of every file, after
    /// which no older record is left outside, may then go on (<see cref="RecordDropRule"/>).
    /// </summary>
    public bool Run(bool all, long now)
    {
        var snapshot = files.TakeMergeSnapshot(all, now);
        if (snapshot.Inputs.Count == 0)
        {
            return true;
        }

        try
        {
            var scansSkippedSomething = false;
            var damaged = new List<DataFile>();
            foreach (var input in snapshot.Inputs)
            {
                // A file wholly below the last flush marker holds nothing live: it is dropped unread.
                if (input.MaxSeq >= snapshot.LastFlushSeq)
                {
                    var scan = input.Scan((in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
                        Rewrite(snapshot, input, record, key, value));
                    foreach (var damage in scan.Skipped)
                    {
                        DamageReport.SkippedByMerge(logger, input.Path, damage);
                    }
                    scansSkippedSomething |= scan.Skipped.Count > 0 || scan.TornTail;
                    if (scan.Skipped.Count > 0)
                    {
                        damaged.Add(input);
                    }
                    if (scansSkippedSomething && !all)
                    {
                        DeleteOutputs();
                        logger.LogWarning("{File} is damaged: merging every data file instead of only the fragmented ones", input.Path);
                        return false;
                    }
                }
            }
            // Without damage every live key in the inputs was met by a scan; the walk of the whole keydir, under the
            // file set's lock, is only worth its pause when a scan could not reach part of a file.
            if (scansSkippedSomething)
            {
                CopyLiveKeysTheScansMissed(snapshot);
            }
            foreach (var (key, seq) in _tombstones)
            {
                Write(RecordType.Tombstone, seq, 0, 0, key, []);
            }
            foreach (var output in _outputs)
            {
                output.FlushToDisk();
            }
            // The merge is about to replace these files by their intact records: the damaged bytes are kept, in a copy
            // no one reads, for whoever investigates (a torn tail is not damage: it is what a crash leaves).
            foreach (var input in damaged)
            {
                File.Copy(input.Path, input.Path + DamagedSuffix, overwrite: true);
                logger.LogWarning("{File}: damaged; a copy is set aside as {Copy} before the merge replaces it",
                    input.Path, input.Path + DamagedSuffix);
            }
            files.SyncDirectory();
        }
        catch (IOException)
        {
            DeleteOutputs();
            throw;
        }
        Reached(MergePhase.OutputsWritten);

        var inputIds = IdsOf(snapshot.Inputs);
        var outputIds = IdsOf(_outputs);
        MergeCommit.Write(files.DirectoryPath, inputIds, outputIds);
        Committed = true;
        files.SyncDirectory();
        Reached(MergePhase.Committed);
        Finish(snapshot);
        Finished = true;
        foreach (var output in _outputs)
        {
            output.Unpin();
            HintFile.WriteOrLeaveForScan(output, logger);
        }
        if (_damagedKeys > 0)
        {
            logger.LogWarning("Merge dropped {Keys} keys whose records were damaged; tombstones keep older values of them from coming back", _damagedKeys);
        }
        logger.LogInformation("Merged {Inputs} data files into {Outputs}, keeping {Keys} live keys",
            inputIds.Length, outputIds.Length, _moved.Count - _damagedKeys);
        return true;
    }

    private void DeleteOutputs()
    {
        foreach (var output in _outputs)
        {
            output.Delete();
        }
    }

    /// <summary>Everything after the commit: swap the outputs in, then remove the inputs and the commit file.</summary>
    private void Finish(MergeSnapshot snapshot)
    {
        foreach (var output in _outputs)
        {
            output.MoveTo(Path.Combine(files.DirectoryPath, DataFileName(output.Id)));
        }
        // The outputs' new names must be durable before the inputs go: MERGE no longer names merge.N files that exist.
        files.SyncDirectory();
        Reached(MergePhase.OutputsRenamed);

        files.SwapIn(snapshot.Inputs, _outputs, _moved);
        Reached(MergePhase.KeyDirUpdated);

        foreach (var input in snapshot.Inputs)
        {
            input.Delete();
        }
        Reached(MergePhase.InputsDeleted);
        MergeCommit.Remove(files.DirectoryPath);
        files.SyncDirectory();
    }

    private void Rewrite(MergeSnapshot snapshot, DataFile input, in RecordInfo record, ReadOnlySpan<byte> key,
        ReadOnlySpan<byte> value)
    {
        switch (record.Type)
        {
            case RecordType.Put or RecordType.Touch:
                RewriteLive(snapshot, input, record, key, value);
                break;
            case RecordType.Tombstone:
                KeepDead(snapshot, key, record.Seq);
                break;
            case RecordType.Flush when !snapshot.MayDrop(record.Seq):
            case RecordType.DelayedFlush when snapshot.Pending?.Seq == record.Seq:
                Write(record.Type, record.Seq, record.ExpiresAt, record.Flags, key, value);
                break;
        }
    }

    /// <summary>A record of a dead key: it leaves a tombstone unless <see cref="RecordDropRule"/> lets it vanish.</summary>
    private void KeepDead(MergeSnapshot snapshot, ReadOnlySpan<byte> key, long seq)
    {
        if (snapshot.MayDrop(seq))
        {
            return;
        }
        var lookup = _tombstones.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (!lookup.TryGetValue(key, out var kept) || kept < seq)
        {
            lookup[key] = seq;
        }
    }

    /// <summary>A live key whose value can no longer be read: it is dropped at the swap, and leaves a tombstone.</summary>
    private void DropDamaged(MergeSnapshot snapshot, byte[] key, in KeyDirEntry entry)
    {
        KeepDead(snapshot, key, entry.Seq);
        _moved[key] = new MovedKey(entry.FileId, entry.ValueOffset, 0, 0, 0, Expired: true);
        _damagedKeys++;
    }

    /// <summary>
    /// Copies a key's live state when this record is what the keydir points at: the put that holds its value, or the
    /// touch that gave it its expiry. Either way one put is written, with the keydir's sequence number and expiry, so
    /// a touch is folded into its value. A record of a key that is no longer live (deleted, expired while the process
    /// was down, flushed) and an expired key become a tombstone unless <see cref="RecordDropRule"/> lets them vanish.
    /// </summary>
    private void RewriteLive(MergeSnapshot snapshot, DataFile input, in RecordInfo record, ReadOnlySpan<byte> key,
        ReadOnlySpan<byte> value)
    {
        if (_moved.GetAlternateLookup<ReadOnlySpan<byte>>().ContainsKey(key))
        {
            return;
        }
        if (!files.TryFindLive(key, out var entry, out var holder))
        {
            KeepDead(snapshot, key, record.Seq);
            return;
        }
        var holdsValue = record.Type == RecordType.Put && entry.FileId == input.Id && entry.ValueOffset == record.ValueOffset;
        if (!holdsValue && !(record.Type == RecordType.Touch && entry.Seq == record.Seq))
        {
            return;
        }

        var owned = key.ToArray();
        if (ExpiryClock.HasExpired(entry.ExpiresAt, snapshot.Now))
        {
            KeepDead(snapshot, key, entry.Seq);
            _moved[owned] = new MovedKey(entry.FileId, entry.ValueOffset, 0, 0, 0, Expired: true);
            return;
        }

        var flags = record.Flags;
        var cas = record.Cas;
        if (!holdsValue)
        {
            // The put this touch belongs to went bad since the load: the key's value is lost.
            if (!TryReadIntactPut(holder, key.Length, entry, out var put, out var info))
            {
                DropDamaged(snapshot, owned, entry);
                return;
            }
            value = DataRecord.ValueOf(put, info);
            flags = info.Flags;
            cas = info.Cas;
        }
        var offset = Write(RecordType.Put, entry.Seq, entry.ExpiresAt, flags, key, value, cas);
        _moved[owned] = new MovedKey(entry.FileId, entry.ValueOffset, _output!.Id, offset + RecordHeaderSize + key.Length,
            DataRecord.SizeOf(key.Length, value.Length), Expired: false);
    }

    /// <summary>
    /// Copies the live keys whose puts the scans did not reach. Behind a damaged header a scan cannot frame the rest of
    /// its file, but the keydir (filled from an intact hint) still knows where each value lies, and each value carries
    /// its own CRC: one that reads back is copied, one that does not is dropped at the swap.
    /// </summary>
    private void CopyLiveKeysTheScansMissed(MergeSnapshot snapshot)
    {
        var inputs = new Dictionary<int, DataFile>();
        foreach (var input in snapshot.Inputs)
        {
            inputs[input.Id] = input;
        }
        foreach (var (key, entry) in files.LiveKeysIn(inputs))
        {
            if (_moved.ContainsKey(key))
            {
                continue;
            }
            var input = inputs[entry.FileId];
            if (TryReadIntactPut(input, key.Length, entry, out var put, out var info))
            {
                RewriteLive(snapshot, input, info, key, DataRecord.ValueOf(put, info));
            }
            else
            {
                DropDamaged(snapshot, key, entry);
            }
        }
    }

    /// <summary>
    /// The put a keydir entry points at, or false when it fails its CRC: a damaged value costs the merge that one key
    /// (dropped at the swap), not the whole merge, which would otherwise fail again every time it ran.
    /// </summary>
    private static bool TryReadIntactPut(DataFile file, int keySize, in KeyDirEntry entry, out byte[] put, out RecordInfo info)
    {
        try
        {
            put = Bitcask.ReadPut(file, keySize, entry, out info);
            return true;
        }
        catch (PersistenceException)
        {
            put = [];
            info = default;
            return false;
        }
    }

    /// <summary>Appends a record to the current output, starting a new merge.N file when it is full.</summary>
    private long Write(RecordType type, long seq, long expiresAt, uint flags, ReadOnlySpan<byte> key,
        ReadOnlySpan<byte> value, ulong cas = 0)
    {
        var size = DataRecord.SizeOf(key.Length, value.Length);
        if (_output is null || (_output.HasRecords && _output.Length + size > files.Options.MaxFileBytes))
        {
            // A full output is only read from now on; its handle goes back to the budget.
            _output?.Unpin();
            _output = files.CreateMergeOutput();
            _outputs.Add(_output);
        }
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            DataRecord.Encode(buffer, type, seq, expiresAt, flags, key, value, cas);
            var offset = _output.Length;
            _output.Append(buffer.AsSpan(0, size));
            _output.NoteSeq(seq);
            if (_outputs.Count == 1 && offset == FileHeaderSize)
            {
                Reached(MergePhase.WritingOutputs);
            }
            return offset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int[] IdsOf(List<DataFile> files)
    {
        var ids = new int[files.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = files[i].Id;
        }
        return ids;
    }

    private void Reached(MergePhase phase) => phaseReached(phase);
}

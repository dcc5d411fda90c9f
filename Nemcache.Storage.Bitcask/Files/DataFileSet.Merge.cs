using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// What a merge asks of the <see cref="DataFileSet"/>: whether one is due, its snapshot, where a key's live state is
/// while it copies, new output files, and the swap that puts the outputs in place of the inputs. Each step takes the
/// set's lock itself.
/// </summary>
internal sealed partial class DataFileSet
{
    /// <summary>True when a merge should run: the immutable files are fragmented enough, or a flush left whole files
    /// dead.</summary>
    public bool MergeIsDue()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            long dead = 0, total = 0;
            var flushedFile = false;
            foreach (var file in _files.Values)
            {
                if (file == _active || !file.HasRecords)
                {
                    continue;
                }
                dead += file.DeadBytes;
                total += file.Length - FileHeaderSize;
                flushedFile |= file.MaxSeq < _lastFlushSeq;
            }
            return flushedFile || (dead >= _options.MergeMinDeadBytes && IsFragmented(dead, total));
        }
    }

    /// <summary>Set by writers when the immutable files hold more dead bytes than the disk bound allows
    /// (<see cref="IsMergingBehind"/>); read without the lock.</summary>
    public bool MergingIsBehind => _mergingIsBehind;

    /// <summary>A merge of every immutable file has run: writers go on until the next check, so that they make progress
    /// even if it reclaimed little.</summary>
    public void MergeCaughtUp() => _mergingIsBehind = false;

    /// <summary>A merge's view of the set at its start: every immutable file, or only the fragmented ones and those
    /// wholly below the last flush marker.</summary>
    public MergeSnapshot TakeMergeSnapshot(bool all, long now)
    {
        lock (_gate)
        {
            var inputs = new List<DataFile>();
            var outsideMinSeq = long.MaxValue;
            foreach (var file in _files.Values)
            {
                var chosen = file != _active && file.HasRecords &&
                             (all || file.MaxSeq < _lastFlushSeq || IsFragmented(file.DeadBytes, file.Length - FileHeaderSize));
                if (chosen)
                {
                    inputs.Add(file);
                }
                else if (file.MinSeq < outsideMinSeq)
                {
                    outsideMinSeq = file.MinSeq;
                }
            }
            inputs.Sort(static (a, b) => a.Id.CompareTo(b.Id));
            return new MergeSnapshot(inputs, outsideMinSeq, _lastFlushSeq, _pendingFlush, now);
        }
    }

    /// <summary>Where a key's live state is now, and the file that holds its value; false when the key is dead.</summary>
    public bool TryFindLive(ReadOnlySpan<byte> key, out KeyDirEntry entry, out DataFile holder)
    {
        lock (_gate)
        {
            if (!_keyDir.TryGet(key, out entry))
            {
                holder = null!;
                return false;
            }
            holder = _files[entry.FileId];
            WritePendingBeforeReading(holder);
            return true;
        }
    }

    /// <summary>The live keys whose values lie in the given files.</summary>
    public List<(byte[] Key, KeyDirEntry Entry)> LiveKeysIn(IReadOnlyDictionary<int, DataFile> files)
    {
        var found = new List<(byte[] Key, KeyDirEntry Entry)>();
        lock (_gate)
        {
            foreach (var (key, entry) in _keyDir)
            {
                if (files.ContainsKey(entry.FileId))
                {
                    found.Add((key, entry));
                }
            }
        }
        return found;
    }

    /// <summary>Creates a merge output, merge.N, with the next file number; it joins the set at the swap.</summary>
    public DataFile CreateMergeOutput()
    {
        int id;
        lock (_gate)
        {
            id = _nextFileId++;
        }
        return DataFile.Create(DirectoryPath, MergeOutputFileName(id), id, _handles);
    }

    /// <summary>
    /// The swap of a committed merge whose outputs are renamed to data.N: the outputs join the set, the inputs leave
    /// it, the keydir points at the copies of every key whose value did not move while the merge ran (a touch
    /// meanwhile changes only its expiry, which stays the keydir's), and a key still pointing into a retired input is
    /// dropped (<see cref="DropKeysInRetiredFiles"/>). One step under the lock: no reader sees the one without the other.
    /// </summary>
    public void SwapIn(IReadOnlyList<DataFile> inputs, IReadOnlyList<DataFile> outputs,
        IEnumerable<KeyValuePair<byte[], MovedKey>> moved)
    {
        lock (_gate)
        {
            foreach (var output in outputs)
            {
                _files.Add(output.Id, output);
            }
            foreach (var input in inputs)
            {
                _files.Remove(input.Id);
            }
            foreach (var (key, move) in moved)
            {
                ref var entry = ref _keyDir.Find(key);
                if (Unsafe.IsNullRef(ref entry) || entry.FileId != move.FromFile || entry.ValueOffset != move.FromValueOffset)
                {
                    continue;
                }
                // The value may have come from a file this merge leaves alone (a folded touch): that copy is dead now.
                Forget(key.Length, entry);
                if (move.Expired)
                {
                    _keyDir.Remove(key, out _);
                    continue;
                }
                entry.FileId = move.ToFile;
                entry.ValueOffset = move.ToValueOffset;
                _files[move.ToFile].LiveBytes += move.RecordSize;
            }
            DropKeysInRetiredFiles(inputs);
        }
    }

    /// <summary>
    /// After a merge has pointed the keydir at its copies: a key still pointing into a retired input had its only
    /// record there damaged (the merge's scan skips what fails its CRC). The value is gone either way; the key is
    /// dropped rather than left pointing at a file that no longer exists.
    /// </summary>
    private void DropKeysInRetiredFiles(IReadOnlyList<DataFile> inputs)
    {
        var retired = new HashSet<int>();
        foreach (var input in inputs)
        {
            retired.Add(input.Id);
        }
        var lost = new List<byte[]>();
        foreach (var (key, entry) in _keyDir)
        {
            if (retired.Contains(entry.FileId))
            {
                lost.Add(key);
            }
        }
        foreach (var key in lost)
        {
            ForgetLostKey(key);
        }
        if (lost.Count > 0)
        {
            _logger.LogWarning("Merge dropped {Keys} keys whose records were damaged", lost.Count);
        }
    }

    private bool IsFragmented(long dead, long total) => total > 0 && dead >= _options.MergeFragmentation * total;

    /// <summary>
    /// The disk bound (docs/bitcask-format.md, "Disk use"): merging has fallen behind the writers when the immutable
    /// files hold more than twice the dead bytes that start a merge, max(MergeMinDeadBytes, f / (1 - f) x live) for
    /// MergeFragmentation f. With f = 1 no fragmentation ever starts a merge, and there is no bound.
    /// </summary>
    private bool IsMergingBehind()
    {
        if (_options.MergeFragmentation >= 1)
        {
            return false;
        }
        double dead = 0, live = 0;
        foreach (var file in _files.Values)
        {
            if (file != _active)
            {
                dead += file.DeadBytes;
                live += file.LiveBytes;
            }
        }
        var f = _options.MergeFragmentation;
        return dead > 2 * Math.Max(_options.MergeMinDeadBytes, f / (1 - f) * live);
    }
}

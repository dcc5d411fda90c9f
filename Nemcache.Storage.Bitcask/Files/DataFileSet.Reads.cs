using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// What readers ask of the <see cref="DataFileSet"/>: a live key's record, read outside the lock and looked up again
/// when a merge moved it meanwhile; and for the bulk load (<see cref="LiveItemLoad"/>) a snapshot of every live key,
/// whether one has moved since, and forgetting one whose record is damaged.
/// </summary>
internal sealed partial class DataFileSet
{
    /// <summary>
    /// Reads the put that holds a key's value, or returns false when the key is not in the keydir. When a merge moved
    /// the value and closed its file between the lookup and the read, the key is looked up again.
    /// </summary>
    public bool TryReadLive(ReadOnlySpan<byte> key, out KeyDirEntry entry, out byte[] record, out RecordInfo info)
    {
        while (true)
        {
            DataFile file;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_closed, this);
                if (!_keyDir.TryGet(key, out entry))
                {
                    record = [];
                    info = default;
                    return false;
                }
                if (!_files.TryGetValue(entry.FileId, out file!))
                {
                    throw new PersistenceException($"data.{entry.FileId} is gone: the key's record was lost");
                }
                WritePendingBeforeReading(file);
            }
            try
            {
                record = Bitcask.ReadPut(file, key.Length, entry, out info);
                return true;
            }
            catch (ObjectDisposedException)
            {
                // Look the key up again: it now points into the merge's output (or the set closed: thrown above).
            }
        }
    }

    /// <summary>Every live key and where its value lies, with the keydir's version at that moment.</summary>
    public LiveRecord[] SnapshotLive(out long version)
    {
        lock (_gate)
        {
            version = _keyDir.Version;
            var live = new LiveRecord[_keyDir.Count];
            var i = 0;
            foreach (var (key, entry) in _keyDir)
            {
                live[i++] = new LiveRecord(key, entry);
            }
            return live;
        }
    }

    /// <summary>
    /// The file a snapshot's entry points into, while the key still points there: false when it moved (a merge, a
    /// write) or its file is gone. While the keydir has not changed since the snapshot (<paramref name="version"/>),
    /// the key is not looked up again: that probe of a table of a million keys costs more than reading the value.
    /// </summary>
    public bool TryFindUnmoved(byte[] key, in KeyDirEntry snapshot, long version, out DataFile file)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_keyDir.Version != version &&
                (!_keyDir.TryGet(key, out var current) || current.FileId != snapshot.FileId
                 || current.ValueOffset != snapshot.ValueOffset || current.Seq != snapshot.Seq))
            {
                file = null!;
                return false;
            }
            if (!_files.TryGetValue(snapshot.FileId, out file!))
            {
                return false;
            }
            WritePendingBeforeReading(file);
            return true;
        }
    }

    /// <summary>Under the lock, before a file is read outside it: a record still pending in the active file is not in
    /// the file yet. A failed write is latched as at a commit, and the read then finds the record missing.</summary>
    private void WritePendingBeforeReading(DataFile file)
    {
        if (file == _active)
        {
            WritePendingLocked();
        }
    }

    /// <summary>Forgets a key whose newest record a load found damaged (<see cref="ForgetLostKey"/>). Returns the
    /// keydir version to compare with from now on: this removal must not make the load take every remaining key for
    /// moved.</summary>
    public long ForgetDamagedKey(byte[] key, long version)
    {
        lock (_gate)
        {
            var unchangedSinceSnapshot = _keyDir.Version == version;
            ForgetLostKey(key);
            return unchangedSinceSnapshot ? _keyDir.Version : version;
        }
    }

    /// <summary>Every key the set holds, including expired ones merge has not dropped yet; a snapshot.</summary>
    public List<byte[]> Keys()
    {
        lock (_gate)
        {
            var keys = new List<byte[]>(_keyDir.Count);
            foreach (var (key, _) in _keyDir)
            {
                keys.Add(key);
            }
            return keys;
        }
    }
}

using System.Runtime.InteropServices;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Where a key's value lies and what its latest record said. <see cref="Seq"/> and <see cref="ExpiresAt"/> come from
/// the key's latest record, which is a touch when the key was touched after its put; the location always points at
/// the put that holds the value. 32 bytes; docs/bitcask-format.md has the measured cost per key.
/// </summary>
internal struct KeyDirEntry
{
    /// <summary>Only during recovery: marks a key whose latest record so far is a tombstone.</summary>
    public const int Deleted = -1;

    public int FileId;
    public int ValueSize;
    public long ValueOffset;
    public long Seq;
    public long ExpiresAt;

    public readonly bool IsDeleted => ValueSize == Deleted;

    public readonly int RecordSize(int keySize) => DataRecord.SizeOf(keySize, ValueSize);

    public readonly long RecordOffset(int keySize) => ValueOffset - BitcaskFormat.RecordHeaderSize - keySize;
}

/// <summary>
/// The key directory: key to <see cref="KeyDirEntry"/>. Not thread-safe; the engine guards it with its lock. Keys are
/// looked up by span, so a lookup never allocates; a key array is stored only when the key is new.
/// </summary>
internal sealed class KeyDir
{
    private readonly Dictionary<byte[], KeyDirEntry> _entries;
    private readonly Dictionary<byte[], KeyDirEntry>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;

    public KeyDir(int capacity = 0)
    {
        _entries = new Dictionary<byte[], KeyDirEntry>(capacity, ByteKeyComparer.Instance);
        _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _entries.Count;

    /// <summary>
    /// Counts the calls that may have changed an entry (those that hand out a reference included), so that a reader
    /// holding a snapshot can tell it is still current without looking every key up again.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>Sizes the table for <paramref name="capacity"/> keys, so that recovery does not rehash it as it grows.</summary>
    public void EnsureCapacity(int capacity) => _entries.EnsureCapacity(capacity);

    public bool TryGet(ReadOnlySpan<byte> key, out KeyDirEntry entry) => _bySpan.TryGetValue(key, out entry);

    /// <summary>The entry for a key, added zeroed (with <paramref name="exists"/> false) when missing. The key array is
    /// kept only when added: <paramref name="key"/> must not change afterwards.</summary>
    public ref KeyDirEntry GetOrAdd(byte[] key, out bool exists)
    {
        Version++;
        return ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, key, out exists);
    }

    /// <summary>Like <see cref="GetOrAdd(byte[], out bool)"/> for a key that is only borrowed: copied when added.</summary>
    public ref KeyDirEntry GetOrAdd(ReadOnlySpan<byte> key, out bool exists)
    {
        Version++;
        return ref CollectionsMarshal.GetValueRefOrAddDefault(_bySpan, key, out exists);
    }

    /// <summary>A reference to the key's entry, or a null reference (test with Unsafe.IsNullRef) when it is missing.</summary>
    public ref KeyDirEntry Find(ReadOnlySpan<byte> key)
    {
        Version++;
        return ref CollectionsMarshal.GetValueRefOrNullRef(_bySpan, key);
    }

    public bool Remove(ReadOnlySpan<byte> key, out KeyDirEntry entry)
    {
        Version++;
        return _bySpan.Remove(key, out _, out entry);
    }

    public void Clear()
    {
        Version++;
        _entries.Clear();
    }

    public Dictionary<byte[], KeyDirEntry>.Enumerator GetEnumerator() => _entries.GetEnumerator();

    /// <summary>Removes every entry the predicate picks; for recovery's final pass.</summary>
    public int RemoveWhere(Func<byte[], KeyDirEntry, bool> predicate)
    {
        Version++;
        var doomed = new List<byte[]>();
        foreach (var (key, entry) in _entries)
        {
            if (predicate(key, entry))
            {
                doomed.Add(key);
            }
        }
        foreach (var key in doomed)
        {
            _entries.Remove(key);
        }
        return doomed.Count;
    }
}

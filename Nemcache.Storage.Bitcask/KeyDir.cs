using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Where a key's value lies and what its latest record said. <see cref="Seq"/> and <see cref="ExpiresAt"/> come from
/// the key's latest record, which is a touch when the key was touched after its put; the location always points at
/// the put that holds the value. 28 bytes, packed to 4-byte alignment so that a keydir slot is 40 bytes;
/// docs/bitcask-format.md has the measured cost per key.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct KeyDirEntry
{
    /// <summary>Only during recovery: marks a key whose latest record so far is a tombstone.</summary>
    public const int Deleted = -1;

    public int FileId;
    public int ValueSize;
    public long ValueOffset;
    public long Seq;
    private uint _expiresAt;

    /// <summary>
    /// Absolute unix seconds, 0 = never, in 32 bits as the cache holds it: a later expiry than
    /// <see cref="CacheLimits.LatestExpiry"/> is held as that second.
    /// </summary>
    public long ExpiresAt
    {
        readonly get => _expiresAt;
        set => _expiresAt = (uint)Math.Clamp(value, 0, CacheLimits.LatestExpiry);
    }

    public readonly bool IsDeleted => ValueSize == Deleted;

    /// <summary>The size of the put this entry points at, in a file whose record headers are <paramref name="headerSize"/> bytes.</summary>
    public readonly int RecordSize(int keySize, int headerSize) => headerSize + keySize + ValueSize;

    public readonly long RecordOffset(int keySize, int headerSize) => ValueOffset - headerSize - keySize;
}
/// <summary>
/// The key directory: key to <see cref="KeyDirEntry"/>. Not thread-safe; the engine guards it with its lock. Keys are
/// looked up by span, so a lookup never allocates; a key array is stored only when the key is new.
/// <para>
/// A chained hash table like <see cref="Dictionary{TKey, TValue}"/>, with one difference that matters for a million
/// keys: its slots live in fixed blocks that are added as it grows and never copied. A dictionary doubles by copying
/// every slot into an array twice the size, which leaves tens of MB of outgrown arrays behind in the large object
/// heap and half-empty slots ahead; here only the bucket array (4 bytes a slot) is ever copied
/// (docs/bitcask-format.md, Memory per key). Slots are used in insertion order and reused last-freed-first, and
/// enumeration goes by slot, so it follows insertion order while nothing is removed, as a dictionary's does.
/// </para>
/// </summary>
internal sealed class KeyDir
{
    /// <summary>1,024 slots of 40 bytes a block: 40 KiB, below the large object threshold, so blocks are ordinary
    /// objects.</summary>
    private const int BlockShift = 10;
    private const int BlockSize = 1 << BlockShift;
    private const int MinBuckets = 16;

    /// <summary>The largest power of two an int array can have; past it, chains just grow longer.</summary>
    private const int MaxBuckets = 1 << 30;

    /// <summary>Room for this many blocks when the first one is added; the block array doubles after that.</summary>
    private const int InitialBlockArrayLength = 4;

    /// <summary>Slot links and buckets hold a slot index plus one, so that 0 (a new array's content) means none.</summary>
    private const int None = 0;

    private Slot[][] _blocks = [];
    private int _blockCount;
    private int[] _buckets;
    private int _used;
    private int _freeHead = None;
    private int _count;

    public KeyDir(int capacity = 0) => _buckets = new int[BucketCountFor(capacity)];

    public int Count => _count;

    /// <summary>
    /// Counts the calls that may have changed an entry (those that hand out a reference included), so that a reader
    /// holding a snapshot can tell it is still current without looking every key up again.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>Sizes the buckets for <paramref name="capacity"/> keys, so that recovery does not rebucket as it grows.</summary>
    public void EnsureCapacity(int capacity)
    {
        var buckets = BucketCountFor(capacity);
        if (buckets > _buckets.Length)
        {
            Rebucket(buckets);
        }
    }

    public bool TryGet(ReadOnlySpan<byte> key, out KeyDirEntry entry)
    {
        var link = Find(key, ByteKeyComparer.Hash(key));
        entry = link == None ? default : SlotAt(link).Entry;
        return link != None;
    }

    /// <summary>The entry for a key, added zeroed (with <paramref name="exists"/> false) when missing. The key array is
    /// kept only when added: <paramref name="key"/> must not change afterwards.</summary>
    public ref KeyDirEntry GetOrAdd(byte[] key, out bool exists)
    {
        Version++;
        var hash = ByteKeyComparer.Hash(key);
        var link = Find(key, hash);
        exists = link != None;
        return ref exists ? ref SlotAt(link).Entry : ref Add(key, hash).Entry;
    }

    /// <summary>Like <see cref="GetOrAdd(byte[], out bool)"/> for a key that is only borrowed: copied when added.</summary>
    public ref KeyDirEntry GetOrAdd(ReadOnlySpan<byte> key, out bool exists)
    {
        Version++;
        var hash = ByteKeyComparer.Hash(key);
        var link = Find(key, hash);
        exists = link != None;
        return ref exists ? ref SlotAt(link).Entry : ref Add(key.ToArray(), hash).Entry;
    }

    /// <summary>A reference to the key's entry, or a null reference (test with Unsafe.IsNullRef) when it is missing.</summary>
    public ref KeyDirEntry Find(ReadOnlySpan<byte> key)
    {
        Version++;
        var link = Find(key, ByteKeyComparer.Hash(key));
        return ref link == None ? ref Unsafe.NullRef<KeyDirEntry>() : ref SlotAt(link).Entry;
    }

    public bool Remove(ReadOnlySpan<byte> key, out KeyDirEntry entry)
    {
        Version++;
        var hash = ByteKeyComparer.Hash(key);
        ref var link = ref _buckets[BucketOf(hash)];
        while (link != None)
        {
            ref var slot = ref SlotAt(link);
            if (key.SequenceEqual(slot.Key))
            {
                entry = slot.Entry;
                var freed = link;
                link = slot.Next;
                slot = new Slot { Next = _freeHead };
                _freeHead = freed;
                _count--;
                return true;
            }
            link = ref slot.Next;
        }
        entry = default;
        return false;
    }

    /// <summary>Forgets every key and gives the memory back.</summary>
    public void Clear()
    {
        Version++;
        _blocks = [];
        _blockCount = 0;
        _buckets = new int[MinBuckets];
        _used = 0;
        _freeHead = None;
        _count = 0;
    }

    /// <summary>Every entry, in slot order; the keydir must not change meanwhile.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>Removes every entry the predicate picks; for recovery's final pass.</summary>
    public int RemoveWhere(Func<byte[], KeyDirEntry, bool> predicate)
    {
        var removed = 0;
        for (var link = 1; link <= _used; link++)
        {
            // A removal frees only the slot it removes, so the walk by slot stays valid.
            ref var slot = ref SlotAt(link);
            if (slot.Key is { } key && predicate(key, slot.Entry))
            {
                Remove(key, out _);
                removed++;
            }
        }
        return removed;
    }

    private int Find(ReadOnlySpan<byte> key, int hash)
    {
        var link = _buckets[BucketOf(hash)];
        while (link != None)
        {
            ref var slot = ref SlotAt(link);
            if (key.SequenceEqual(slot.Key))
            {
                return link;
            }
            link = slot.Next;
        }
        return None;
    }

    private ref Slot Add(byte[] key, int hash)
    {
        if (_count == _buckets.Length && _buckets.Length < MaxBuckets)
        {
            Rebucket(_buckets.Length * 2);
        }
        int link;
        if (_freeHead != None)
        {
            link = _freeHead;
            _freeHead = SlotAt(link).Next;
        }
        else
        {
            link = ++_used;
            if ((link - 1) >> BlockShift == _blockCount)
            {
                AddBlock();
            }
        }
        ref var bucket = ref _buckets[BucketOf(hash)];
        ref var slot = ref SlotAt(link);
        slot = new Slot { Key = key, Next = bucket };
        bucket = link;
        _count++;
        return ref slot;
    }

    private void AddBlock()
    {
        if (_blockCount == _blocks.Length)
        {
            Array.Resize(ref _blocks, Math.Max(InitialBlockArrayLength, _blocks.Length * 2));
        }
        _blocks[_blockCount++] = new Slot[BlockSize];
    }

    /// <summary>Replaces the bucket array with one of <paramref name="size"/> buckets and relinks every slot.</summary>
    private void Rebucket(int size)
    {
        _buckets = new int[size];
        for (var link = 1; link <= _used; link++)
        {
            ref var slot = ref SlotAt(link);
            if (slot.Key is not null)
            {
                ref var bucket = ref _buckets[BucketOf(ByteKeyComparer.Hash(slot.Key))];
                slot.Next = bucket;
                bucket = link;
            }
        }
    }

    private int BucketOf(int hash) => hash & (_buckets.Length - 1);

    private ref Slot SlotAt(int link) => ref _blocks[(link - 1) >> BlockShift][(link - 1) & (BlockSize - 1)];

    private static int BucketCountFor(int capacity) =>
        (int)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 1)), MinBuckets, MaxBuckets);

    /// <summary>
    /// One key's place: 40 bytes. A free slot has no key; its <see cref="Next"/> links the free list. No hash is kept:
    /// a chain is searched by comparing keys and rebucketing hashes each key again, since a stored hash would take
    /// the slot to 48 bytes.
    /// </summary>
    private struct Slot
    {
        public byte[]? Key;
        public int Next;
        public KeyDirEntry Entry;
    }

    public struct Enumerator(KeyDir keyDir)
    {
        private int _link;

        public readonly KeyValuePair<byte[], KeyDirEntry> Current
        {
            get
            {
                ref var slot = ref keyDir.SlotAt(_link);
                return new KeyValuePair<byte[], KeyDirEntry>(slot.Key!, slot.Entry);
            }
        }

        public bool MoveNext()
        {
            while (_link < keyDir._used)
            {
                _link++;
                if (keyDir.SlotAt(_link).Key is not null)
                {
                    return true;
                }
            }
            return false;
        }
    }
}

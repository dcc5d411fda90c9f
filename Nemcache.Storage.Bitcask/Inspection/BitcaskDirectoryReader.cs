using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>One data file's size and how much of it the keydir still points at (the rest after its header is dead).</summary>
public sealed record BitcaskFileSpace(string Name, long Bytes, long LiveBytes, long DeadBytes);

/// <summary>
/// The Bitcask engine's public read-only seam, for tools and importers: a directory's state as the server would
/// recover it, by the engine's own recovery run read-only (no merge finished, nothing cut or deleted, every file
/// opened for reading, no lock taken), and values read back through the engine's own check of the put record a key
/// points at. It reads the directory as it stood when opened; a running server may go on writing meanwhile.
/// </summary>
public sealed class BitcaskDirectoryReader : IDisposable
{
    /// <summary>Enough handles for every file of a large directory, so that none is closed and reopened while the
    /// directory is read: a running server's merge may delete a file, which an open handle still reads.</summary>
    private const int OpenFiles = 4096;

    /// <summary>How often recovery is tried when a running server's files changed under it, and the pause between.</summary>
    private const int Attempts = 5;
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(500);

    private readonly Recovery _recovery;
    private readonly ILogger _warnings;

    private BitcaskDirectoryReader(Recovery recovery, ILogger warnings)
    {
        _recovery = recovery;
        _warnings = warnings;
    }

    /// <summary>Whether <paramref name="directory"/> holds a file named as a Bitcask data file.</summary>
    public static bool HoldsData(string directory) =>
        Directory.EnumerateFiles(directory, BitcaskFormat.DataPrefix + "*")
            .Any(path => Recovery.TryParseDataId(Path.GetFileName(path), out _));

    /// <summary>
    /// Recovers the directory's state as of <paramref name="now"/> (unix seconds), logging to
    /// <paramref name="warnings"/> what recovery would warn about. A running server may delete a file (a merge) between
    /// the listing and its opening; then the directory is read again, as it then stands.
    /// </summary>
    public static BitcaskDirectoryReader Open(string directory, long now, ILogger warnings)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var handles = new FileHandleBudget(OpenFiles, FileAccess.Read);
                return new BitcaskDirectoryReader(Recovery.Run(directory, now, warnings, handles, readOnly: true), warnings);
            }
            catch (FileNotFoundException) when (attempt < Attempts)
            {
                Thread.Sleep(Pause);
            }
        }
    }

    /// <summary>The deadline (unix seconds) of a delayed flush_all the directory records, or null.</summary>
    public long? PendingFlushAt => _recovery.Pending?.At;

    /// <summary>How many keys the keydir holds.</summary>
    public int Keys => _recovery.KeyDir.Count;

    /// <summary>Every live item, read in file and offset order, with its expiry as stored (a pending flush is not folded
    /// in). A value whose record no longer reads back is left out with a warning, as the server's load leaves it out.</summary>
    public IEnumerable<BitcaskItem> LiveItems()
    {
        var entries = new List<(byte[] Key, KeyDirEntry Entry)>(_recovery.KeyDir.Count);
        foreach (var (key, entry) in _recovery.KeyDir)
        {
            entries.Add((key, entry));
        }
        entries.Sort((a, b) => (a.Entry.FileId, a.Entry.ValueOffset).CompareTo((b.Entry.FileId, b.Entry.ValueOffset)));
        foreach (var (key, entry) in entries)
        {
            byte[] record;
            RecordInfo info;
            try
            {
                record = Bitcask.ReadPut(_recovery.Files[entry.FileId], key.Length, entry, out info);
            }
            catch (PersistenceException ex)
            {
                _warnings.LogWarning("{Message}; its key is dropped", ex.Message);
                continue;
            }
            var value = DataRecord.ValueOf(record, info).ToArray();
            yield return new BitcaskItem(key, value, info.Flags, entry.ExpiresAt);
        }
    }

    /// <summary>The key and value bytes the keydir accounts for, without reading a value.</summary>
    public (long KeyBytes, long ValueBytes) Sizes()
    {
        long keyBytes = 0, valueBytes = 0;
        foreach (var (key, entry) in _recovery.KeyDir)
        {
            keyBytes += key.Length;
            valueBytes += entry.ValueSize;
        }
        return (keyBytes, valueBytes);
    }

    /// <summary>The engine's own account of each data file, as its <c>stats</c> reports it: a file's live bytes are the
    /// put records the keydir points at; everything else after the file header is dead.</summary>
    public IReadOnlyList<BitcaskFileSpace> Files() =>
        _recovery.Files.Values
            .Select(f => new BitcaskFileSpace(Path.GetFileName(f.Path), f.Length, f.LiveBytes, f.DeadBytes))
            .ToList();

    /// <summary>Closes every data file the reader opened.</summary>
    public void Dispose()
    {
        foreach (var file in _recovery.Files.Values)
        {
            file.Dispose();
        }
    }
}

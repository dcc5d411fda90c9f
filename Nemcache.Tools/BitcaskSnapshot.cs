using Microsoft.Extensions.Logging;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tools;

/// <summary>
/// A Bitcask directory's state as the server would recover it: the plugin's own recovery, run read-only (no merge
/// finished, nothing cut or deleted, every file opened for reading), and values read back through the engine's own
/// check of the put record a key points at.
/// </summary>
internal sealed class BitcaskSnapshot : IDisposable
{
    /// <summary>Enough handles for every file of a large directory, so that none is closed and reopened while the
    /// snapshot is read: a running server's merge may delete a file, which an open handle still reads.</summary>
    private const int OpenFiles = 4096;

    private readonly Recovery _recovery;
    private readonly ILogger _warnings;

    private BitcaskSnapshot(Recovery recovery, ILogger warnings)
    {
        _recovery = recovery;
        _warnings = warnings;
    }

    /// <summary>How often recovery is tried when a running server's files changed under it, and the pause between.</summary>
    private const int Attempts = 5;
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Recovers the directory's state. A running server may delete a file (a merge) between the listing and its
    /// opening; then the directory is read again, as it then stands.
    /// </summary>
    public static BitcaskSnapshot Open(string directory, long now, ILogger warnings)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var handles = new FileHandleBudget(OpenFiles, FileAccess.Read);
                return new BitcaskSnapshot(Recovery.Run(directory, now, warnings, handles, readOnly: true), warnings);
            }
            catch (FileNotFoundException) when (attempt < Attempts)
            {
                Thread.Sleep(Pause);
            }
        }
    }

    /// <summary>Every live item, read in file and offset order; a value whose record no longer reads back is left out
    /// with a warning, as the server's load leaves it out.</summary>
    public IEnumerable<LiveItem> LiveItems()
    {
        var entries = new List<(byte[] Key, KeyDirEntry Entry)>(_recovery.KeyDir.Count);
        foreach (var (key, entry) in _recovery.KeyDir)
        {
            entries.Add((key, entry));
        }
        entries.Sort((a, b) => (a.Entry.FileId, a.Entry.ValueOffset).CompareTo((b.Entry.FileId, b.Entry.ValueOffset)));
        var flushAt = _recovery.Pending?.At;
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
            yield return new LiveItem(key, value, info.Flags, entry.ExpiresAt).ExpiringBy(flushAt);
        }
    }

    /// <summary>The engine's own account, as its <c>stats</c> reports it: a file's live bytes are the put records the
    /// keydir points at; everything else after the file header is dead.</summary>
    public DirectoryStatistics Statistics()
    {
        long keyBytes = 0, valueBytes = 0;
        foreach (var (key, entry) in _recovery.KeyDir)
        {
            keyBytes += key.Length;
            valueBytes += entry.ValueSize;
        }
        var files = _recovery.Files.Values
            .Select(f => new FileStatistics(Path.GetFileName(f.Path), f.Length, f.LiveBytes, f.DeadBytes))
            .ToList();
        return new DirectoryStatistics(DataFormat.Bitcask, files, _recovery.KeyDir.Count, keyBytes, valueBytes,
            _recovery.Pending?.At);
    }

    public void Dispose()
    {
        foreach (var file in _recovery.Files.Values)
        {
            file.Dispose();
        }
    }
}

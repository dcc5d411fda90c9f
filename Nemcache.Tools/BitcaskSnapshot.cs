using Microsoft.Extensions.Logging;
using Nemcache.Storage.Bitcask;

namespace Nemcache.Tools;

/// <summary>
/// A Bitcask directory's state as the server would recover it, read through the engine's read-only
/// <see cref="BitcaskDirectoryReader"/>, with a delayed flush_all folded into each item's expiry.
/// </summary>
internal sealed class BitcaskSnapshot : IDisposable
{
    private readonly BitcaskDirectoryReader _reader;

    private BitcaskSnapshot(BitcaskDirectoryReader reader) => _reader = reader;

    public static BitcaskSnapshot Open(string directory, long now, ILogger warnings) =>
        new(BitcaskDirectoryReader.Open(directory, now, warnings));

    /// <summary>Every live item, read in file and offset order; a value whose record no longer reads back is left out
    /// with a warning, as the server's load leaves it out.</summary>
    public IEnumerable<LiveItem> LiveItems()
    {
        var flushAt = _reader.PendingFlushAt;
        foreach (var item in _reader.LiveItems())
        {
            yield return new LiveItem(item.Key, item.Value, item.Flags, item.ExpiresAt).ExpiringBy(flushAt);
        }
    }

    /// <summary>The engine's own account, as its <c>stats</c> reports it.</summary>
    public DirectoryStatistics Statistics()
    {
        var (keyBytes, valueBytes) = _reader.Sizes();
        var files = _reader.Files().Select(f => new FileStatistics(f.Name, f.Bytes, f.LiveBytes, f.DeadBytes)).ToList();
        return new DirectoryStatistics(DataFormat.Bitcask, files, _reader.Keys, keyBytes, valueBytes, _reader.PendingFlushAt);
    }

    public void Dispose() => _reader.Dispose();
}

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Moves another plugin's persisted cache into a Bitcask directory that has none yet: the seam for switching an
/// existing installation to NEMCACHE_USE_BITCASK=1 (StreamArchiver's cachelog.bin lies in the same data directory).
/// <see cref="BitcaskStore.Restore"/> calls it only when the engine recovered no data file, before loading the cache.
/// </summary>
public interface IBitcaskImporter
{
    /// <summary>Writes the items to keep into <paramref name="engine"/> (Put, ScheduleFlush); returns how many.</summary>
    long Import(Bitcask engine);
}

using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Decides whether a directory may hold Bitcask files. A missing one is created, owner-only (0700). An existing one
/// is accepted when it is empty or holds at least one name Nemcache writes: LOCK, PLUGIN, cas-epoch, MERGE, data.*,
/// merge.*, or the default plugin's cachelog.*. Anything else is someone else's directory and is refused,
/// as is a data.N file that is not ours (checked when the files are opened).
/// </summary>
internal static class DataDirectory
{
    /// <summary>The prefix of StreamArchiver's files, which may share the directory.</summary>
    public const string StreamArchiverPrefix = "cachelog";

    public static void Prepare(string directory)
    {
        try
        {
            if (File.Exists(directory))
            {
                throw new PersistenceException($"Data directory {directory} is a file, not a directory.");
            }
            if (!Directory.Exists(directory))
            {
                OwnerOnlyFiles.CreateDirectory(directory);
                return;
            }
            var holdsOthers = false;
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                if (IsNemcacheName(Path.GetFileName(entry)))
                {
                    return;
                }
                holdsOthers = true;
            }
            if (holdsOthers)
            {
                throw new PersistenceException(
                    $"{directory} is not a Nemcache data directory: it holds other files and none of Nemcache's.");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"Data directory {directory} cannot be used: {ex.Message}", ex);
        }
    }

    private static bool IsNemcacheName(string name) =>
        name is LockFileName or MergeCommitFileName or CasEpochFile.FileName or DataDirectoryOwner.FileName
            or DataDirectoryOwner.TemporaryFileName ||
        name.StartsWith(DataPrefix, StringComparison.Ordinal) ||
        name.StartsWith(MergeOutputPrefix, StringComparison.Ordinal) ||
        name.StartsWith(StreamArchiverPrefix, StringComparison.Ordinal);
}

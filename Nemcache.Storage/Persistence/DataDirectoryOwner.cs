using System.Text;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// PLUGIN: the name of the persistence plugin whose files hold the data directory's cache ("stream", "bitcask"), one
/// line of ASCII. Only the owner's files are ever read; another plugin's files in the directory are an earlier state.
/// It is replaced atomically (a temporary file, fsynced, renamed over it, the directory fsynced), so a crash leaves
/// either the old name or the new one, never a torn one. Public because each plugin reads and writes it, and tools read
/// it to know which plugin's files to trust.
/// </summary>
public static class DataDirectoryOwner
{
    /// <summary>The marker's name inside the data directory.</summary>
    public const string FileName = "PLUGIN";

    /// <summary>Where the next marker is written before it is renamed over <see cref="FileName"/>.</summary>
    public const string TemporaryFileName = FileName + ".tmp";

    /// <summary>A plugin name is short; anything longer is not a marker this server wrote.</summary>
    private const int MaxLength = 64;

    /// <summary>The owner's name, or null when the directory has no marker (it is new, or a build before markers
    /// wrote it). Throws <see cref="PersistenceException"/> when the marker cannot be read.</summary>
    public static string? Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            var bytes = File.ReadAllBytes(path);
            var name = bytes.Length <= MaxLength ? Encoding.ASCII.GetString(bytes).Trim() : "";
            if (name.Length == 0 || !name.All(char.IsAsciiLetterLower))
            {
                throw new PersistenceException($"{path} does not name a persistence plugin; move it away if the directory is not Nemcache's.");
            }
            return name;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"data directory {directory} cannot be used: {ex.Message}", ex);
        }
    }

    /// <summary>Records <paramref name="plugin"/> as the owner, durably, by the atomic replace described above.</summary>
    public static void Write(string directory, string plugin)
    {
        var temporary = Path.Combine(directory, TemporaryFileName);
        try
        {
            using (var stream = new FileStream(temporary,
                       OwnerOnlyFiles.Options(FileMode.Create, FileAccess.Write, FileShare.None)))
            {
                stream.Write(Encoding.ASCII.GetBytes(plugin + "\n"));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, Path.Combine(directory, FileName), overwrite: true);
            DirectorySync.Flush(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"data directory {directory} cannot be used: writing {FileName} failed: {ex.Message}", ex);
        }
    }
}

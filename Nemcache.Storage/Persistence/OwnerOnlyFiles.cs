namespace Nemcache.Storage.Persistence;

/// <summary>
/// The data directory and every file in it belong to the server's user alone (0700 and 0600, where the OS has modes):
/// a cache may hold anything its clients stored. Both plugins and the directory lock create their files through here,
/// so that no file of a data directory is ever created readable by others.
/// </summary>
public static class OwnerOnlyFiles
{
    /// <summary>0700: what a data directory this server creates gets.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>0600: what a file this server creates in a data directory gets.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>How a data-directory file is opened; one the call creates gets <see cref="FileMode"/>.</summary>
    public static FileStreamOptions Options(System.IO.FileMode mode, FileAccess access, FileShare share,
        FileOptions options = FileOptions.None, int bufferSize = 0)
    {
        var streamOptions = new FileStreamOptions
        {
            Mode = mode, Access = access, Share = share, Options = options, BufferSize = bufferSize,
        };
        if (!OperatingSystem.IsWindows() && mode != System.IO.FileMode.Open)
        {
            streamOptions.UnixCreateMode = FileMode;
        }
        return streamOptions;
    }

    /// <summary>Creates the directory with <see cref="DirectoryMode"/> if it is missing; an existing one is left as it is.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }
}

using System.Text;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// LOCK: keeps a second process (or a second plugin in this one) out of a data directory, whichever plugin writes it;
/// two writers interleaving records would corrupt either format. The file holds the owner's pid for people to read (cat
/// ignores the lock; .NET's own reads do not, so the error cannot quote it). The exclusion itself is the OS lock that
/// FileShare.None takes (flock on Unix), which the OS drops when its owner dies, so a LOCK file left by a dead process
/// is simply taken over. Public because every persistence plugin takes it the same way before it touches a file.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    /// <summary>The lock file's name inside the data directory.</summary>
    public const string FileName = "LOCK";

    private readonly FileStream _stream;

    private DataDirectoryLock(FileStream stream) => _stream = stream;

    /// <summary>
    /// Takes the directory's lock and writes this process's pid into it; the lock is held until <see cref="Dispose"/>
    /// or the process ends. Throws <see cref="PersistenceException"/>, never another exception, when another holder
    /// has it or the directory cannot be written, saying which of the two it is.
    /// </summary>
    public static DataDirectoryLock Acquire(string directory)
    {
        var path = Path.Combine(directory, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, OwnerOnlyFiles.Options(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException ex) when (IsHeldByAnother(ex))
        {
            throw new PersistenceException(
                $"Data directory {directory} is in use by another Nemcache process (its pid is in {path}); only one may open it.", ex);
        }
        catch (IOException ex)
        {
            // A read-only file system, an I/O error: say what it is, not that someone else holds the directory.
            throw new PersistenceException($"Data directory {directory} is not writable: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PersistenceException($"Data directory {directory} is not writable: {ex.Message}", ex);
        }

        try
        {
            var pid = Encoding.ASCII.GetBytes(Environment.ProcessId + "\n");
            stream.SetLength(0);
            stream.Write(pid);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException ex)
        {
            stream.Dispose();
            throw new PersistenceException($"Data directory {directory} is not writable: {ex.Message}", ex);
        }
        return new DataDirectoryLock(stream);
    }

    /// <summary>Releases the lock; the file stays, and the next owner takes it over.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>EWOULDBLOCK (Linux 11, macOS 35): .NET's non-blocking flock found the file locked.</summary>
    private static readonly int[] LockHeldErrors = [11, 35];

    /// <summary>Whether opening LOCK failed because another holder has it locked, as opposed to any other failure.</summary>
    private static bool IsHeldByAnother(IOException ex) =>
        OperatingSystem.IsWindows() ? (ex.HResult & 0xFFFF) == SharingViolation : LockHeldErrors.Contains(ex.HResult);

    private const int SharingViolation = 32;
}

using System.Text;
using Nemcache.Storage.Persistence;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// LOCK: keeps a second process (or a second engine in this one) out of a data directory. The file holds the owner's
/// pid for people to read (cat ignores the lock; .NET's own reads do not, so the error cannot quote it); the exclusion
/// itself is the OS lock that FileShare.None takes (flock on Unix), which the OS drops when its owner dies, so a LOCK
/// file left by a dead process is simply taken over.
/// </summary>
internal sealed class LockFile : IDisposable
{
    private readonly FileStream _stream;

    private LockFile(FileStream stream) => _stream = stream;

    public static LockFile Acquire(string directory)
    {
        var path = Path.Combine(directory, BitcaskFormat.LockFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, DataDirectory.FileOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException ex)
        {
            throw new PersistenceException(
                $"Data directory {directory} is in use by another Nemcache process (its pid is in {path}); only one may open it.", ex);
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
        return new LockFile(stream);
    }

    public void Dispose() => _stream.Dispose();
}

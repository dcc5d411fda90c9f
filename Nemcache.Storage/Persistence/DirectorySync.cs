using System.Runtime.InteropServices;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// fsync on a directory, which makes a file created, renamed or deleted in it durable. .NET opens no directory as a
/// file, so this goes to libc. Shared by both plugins and the data directory's owner marker, hence public.
/// </summary>
public static class DirectorySync
{
    private const int ReadOnly = 0;

    /// <summary>fsyncs <paramref name="directory"/>: once it returns, every create, rename and delete made in it
    /// before the call survives a crash. Throws <see cref="IOException"/> (with the errno) when it cannot be done.</summary>
    public static void Flush(string directory)
    {
        var fd = open(directory, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);
}

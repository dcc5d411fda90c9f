using System.Globalization;
using System.Runtime.InteropServices;

namespace Nemcache.Storage.Persistence.Stream;

/// <summary>
/// Sets damaged bytes aside before recovery truncates or a compaction replaces the log that holds them, as
/// <c>cachelog.bin.damaged-TIME</c> files beside it: recovery never destroys bytes it could not read.
/// </summary>
internal static class DamagedLogFiles
{
    private const int CopyChunk = 1 << 20;

    /// <summary>Copies the log's bytes from <paramref name="offset"/> to its end into a new file, fsynced, and returns
    /// its name: the bytes a cut is about to drop.</summary>
    public static string CopyTail(string logPath, long offset)
    {
        var directory = Path.GetDirectoryName(logPath)!;
        using var source = File.OpenHandle(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var (name, target) = CreateNew(directory);
        using (target)
        {
            var buffer = new byte[CopyChunk];
            var length = RandomAccess.GetLength(source);
            for (var position = offset; position < length;)
            {
                var read = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - position)), position);
                if (read == 0)
                {
                    break;
                }
                RandomAccess.Write(target, buffer.AsSpan(0, read), position - offset);
                position += read;
            }
            RandomAccess.FlushToDisk(target);
        }
        DirectorySync.Flush(directory);
        return name;
    }

    /// <summary>Gives the log a second name (a hard link: no copy), durable before it returns, so that the bytes stay
    /// under that name when a compaction renames a new log over this one.</summary>
    public static string Link(string logPath)
    {
        var directory = Path.GetDirectoryName(logPath)!;
        for (var attempt = 0; ; attempt++)
        {
            var name = Name(attempt);
            if (link(logPath, Path.Combine(directory, name)) == 0)
            {
                DirectorySync.Flush(directory);
                return name;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno != AlreadyExists || attempt > 100)
            {
                throw new IOException($"cannot link {logPath} to {name} (errno {errno})");
            }
        }
    }

    private static (string Name, Microsoft.Win32.SafeHandles.SafeFileHandle Handle) CreateNew(string directory)
    {
        for (var attempt = 0; ; attempt++)
        {
            var name = Name(attempt);
            try
            {
                return (name, StreamLogFormat.OpenFile(Path.Combine(directory, name), FileMode.CreateNew, FileAccess.Write));
            }
            catch (IOException) when (attempt < 100 && File.Exists(Path.Combine(directory, name)))
            {
            }
        }
    }

    private static string Name(int attempt)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        return StreamLogFormat.DamagedFilePrefix + stamp + (attempt == 0 ? "" : "-" + attempt.ToString(CultureInfo.InvariantCulture));
    }

    private const int AlreadyExists = 17;

    [DllImport("libc", SetLastError = true)]
    private static extern int link([MarshalAs(UnmanagedType.LPUTF8Str)] string existing, [MarshalAs(UnmanagedType.LPUTF8Str)] string created);
}

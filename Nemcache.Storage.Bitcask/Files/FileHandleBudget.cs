using Microsoft.Win32.SafeHandles;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Caps how many data-file handles an engine holds open. Handles stay open between reads (no open per read); when a
/// file needs one and the budget is spent, the least recently used handle that nobody is using is closed. Files in
/// use (the active file, merge outputs being written, a scan or read in progress) are never closed under their user;
/// if every open file is in use, the budget is exceeded until one is released. <paramref name="access"/> is Read for
/// a reader that must not be able to write (nemcache-data on a directory a server holds, or on a read-only copy).
/// </summary>
internal sealed class FileHandleBudget(int capacity, FileAccess access = FileAccess.ReadWrite)
{
    private readonly Lock _gate = new();
    private readonly List<DataFile> _open = [];
    private long _uses;

    /// <summary>The file's handle, opened if needed; the file counts as in use until <see cref="Release"/>.
    /// Throws ObjectDisposedException once the file is closed for good.</summary>
    public SafeFileHandle Acquire(DataFile file)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(file.IsClosed, file);
            file.LastUse = ++_uses;
            file.Users++;
            if (file.OpenHandle is null)
            {
                Trim(capacity - 1);
                try
                {
                    file.OpenHandle = File.OpenHandle(file.Path, FileMode.Open, access,
                        FileShare.Read | FileShare.Delete);
                }
                catch
                {
                    file.Users--;
                    throw;
                }
                _open.Add(file);
            }
            return file.OpenHandle;
        }
    }

    public void Release(DataFile file)
    {
        lock (_gate)
        {
            file.Users--;
            Trim(capacity);
        }
    }

    /// <summary>Closes the file's handle for good. A read already running keeps the OS handle alive until it ends
    /// (SafeHandle reference counting); a later <see cref="Acquire"/> throws.</summary>
    public void Close(DataFile file)
    {
        lock (_gate)
        {
            file.IsClosed = true;
            if (file.OpenHandle is { } handle)
            {
                handle.Dispose();
                file.OpenHandle = null;
                _open.Remove(file);
            }
        }
    }

    /// <summary>Closes least recently used idle handles until at most <paramref name="limit"/> are open, or none
    /// is idle. Caller holds the lock.</summary>
    private void Trim(int limit)
    {
        while (_open.Count > limit)
        {
            DataFile? victim = null;
            foreach (var file in _open)
            {
                if (file.Users == 0 && (victim is null || file.LastUse < victim.LastUse))
                {
                    victim = file;
                }
            }
            if (victim is null)
            {
                return;
            }
            victim.OpenHandle!.Dispose();
            victim.OpenHandle = null;
            _open.Remove(victim);
        }
    }
}

using System.Runtime.InteropServices;

namespace Nemcache.Service.Hosting;

/// <summary>
/// -u: a server started as root becomes the named user before it opens its data directory or its port, as memcached
/// does, so that a Debian memcached.conf's "-u memcache" keeps the cache out of root's hands. Started as anyone else, it
/// stays who it is (memcached ignores -u then too).
/// </summary>
internal static class UserIdentity
{
    /// <summary>Where uid_t and gid_t sit in glibc's struct passwd: after the name and password pointers.</summary>
    private static readonly int UidOffset = 2 * IntPtr.Size;
    private static readonly int GidOffset = UidOffset + sizeof(uint);

    /// <summary>Becomes <paramref name="user"/> if running as root; returns false (and changes nothing) otherwise.</summary>
    public static bool TrySwitchTo(string user)
    {
        if (!OperatingSystem.IsLinux() || geteuid() != 0)
        {
            return false;
        }
        var entry = getpwnam(user);
        if (entry == IntPtr.Zero)
        {
            throw new StartupException($"-u/--user: there is no user '{user}' to switch to");
        }
        var uid = (uint)Marshal.ReadInt32(entry, UidOffset);
        var gid = (uint)Marshal.ReadInt32(entry, GidOffset);
        // glibc applies each of these to every thread of the process, which the runtime has already started.
        if (setgroups(0, IntPtr.Zero) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        {
            throw new StartupException($"-u/--user: cannot assume the identity of '{user}': errno {Marshal.GetLastPInvokeError()}");
        }
        return true;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwnam(string name);

    [DllImport("libc", SetLastError = true)]
    private static extern int setgroups(nuint size, IntPtr list);

    [DllImport("libc", SetLastError = true)]
    private static extern int setgid(uint gid);

    [DllImport("libc", SetLastError = true)]
    private static extern int setuid(uint uid);
}

using System.Reflection;

namespace Nemcache.Service;

/// <summary>
/// Which Nemcache this is: its version (VersionPrefix in Directory.Build.props) and the git commit it was built from.
/// The SDK appends the commit to the informational version ("0.1.0+SHA") when it builds inside a git checkout; a build
/// from a tarball has none ("unknown") unless it passes one: dotnet build -p:SourceRevisionId=SHA.
/// </summary>
public static class BuildInfo
{
    /// <summary>The memcached release whose protocol and replies Nemcache follows.</summary>
    public const string MemcachedVersion = "1.6.18";

    private const int ShortCommitLength = 12;

    public static string Version { get; }
    public static string Commit { get; }

    /// <summary>
    /// What `version` answers and `stats` reports as "version": memcached's version first, so that clients that parse
    /// it (libmemcached, php-memcached) see 1.6.18, then ours.
    /// </summary>
    public static string ProtocolVersion { get; }

    /// <summary>The line -V prints.</summary>
    public static string Describe() => $"Nemcache {Version} (commit {Commit}), following memcached {MemcachedVersion}";

    static BuildInfo()
    {
        var informational = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        Version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? "" : informational[(plus + 1)..];
        Commit = commit.Length == 0 ? "unknown" : commit[..Math.Min(commit.Length, ShortCommitLength)];
        ProtocolVersion = $"{MemcachedVersion}-nemcache-{Version}+{Commit}";
    }
}

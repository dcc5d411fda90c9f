namespace Nemcache.Tests.Support;

/// <summary>
/// The persistence modes the real server runs in, as the environment that selects them. A plugin is one entry of
/// <see cref="Plugins"/>, and every test fed from here runs against each.
/// </summary>
public static class ServerModes
{
    private static readonly (string Name, string UseBitcask)[] PluginNames = [("stream", "0"), ("bitcask", "1")];

    private static readonly string[] Syncs = ["interval", "always"];

    /// <summary>Every plugin under every sync mode that promises survival of a crash.</summary>
    public static IEnumerable<TestCaseData> PluginsAndSyncs()
    {
        foreach (var (plugin, useBitcask) in PluginNames)
        {
            foreach (var sync in Syncs)
            {
                yield return new TestCaseData(new Dictionary<string, string>
                {
                    ["NEMCACHE_USE_BITCASK"] = useBitcask,
                    ["NEMCACHE_SYNC"] = sync,
                }).SetArgDisplayNames($"{plugin}-{sync}");
            }
        }
    }

    /// <summary>Every plugin under the default sync mode.</summary>
    public static IEnumerable<TestCaseData> Plugins()
    {
        foreach (var (plugin, useBitcask) in PluginNames)
        {
            yield return new TestCaseData(new Dictionary<string, string> { ["NEMCACHE_USE_BITCASK"] = useBitcask })
                .SetArgDisplayNames(plugin);
        }
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence;

/// <summary>The points a switch passes, in order; a crash between two of them leaves the state the later names.</summary>
internal enum SwitchPhase
{
    /// <summary>The previous owner's state is in the cache and its files are closed; the new plugin has written nothing.</summary>
    SourceRestored,
    /// <summary>The new plugin's files hold the whole state, durably; PLUGIN still names the previous owner.</summary>
    TargetWritten,
    /// <summary>PLUGIN names the new plugin; the previous owner's files are not set aside yet.</summary>
    OwnerSwitched,
}

/// <summary>
/// Restores the cache through the plugin that owns the data directory (<see cref="DataDirectoryOwner"/>), and hands
/// the directory to the selected plugin first when another one owns it. The hand-over goes through the cache: the
/// owner's own Restore loads it (its files stay as its own start would leave them), the selected plugin writes the
/// whole state as its own files (<see cref="ICachePersistence.Adopt"/>, durable when it returns), PLUGIN is switched
/// to it, and only then are the previous owner's files set aside as *.imported. A crash before the switch of PLUGIN
/// leaves the previous owner's files whole and still named the owner, so the next start does the import again; a crash
/// after it leaves the new plugin's complete files as the owner's.
/// </summary>
public sealed class PluginSwitch
{
    /// <summary>What a plugin's files are renamed to once another plugin has taken their state over.</summary>
    public const string RetiredSuffix = ".imported";

    private readonly string _directory;
    private readonly ICachePersistence _selected;
    private readonly IReadOnlyList<ICachePersistence> _others;
    private readonly ILogger _logger;

    /// <param name="selected">The plugin the settings choose: it owns the directory once <see cref="Restore"/> returns.</param>
    /// <param name="others">Every other plugin, fresh (not restored), as possible previous owners.</param>
    public PluginSwitch(string directory, ICachePersistence selected, IReadOnlyList<ICachePersistence> others, ILogger logger)
    {
        _directory = directory;
        _selected = selected;
        _others = others;
        _logger = logger;
    }

    /// <summary>Test hook: called as a switch reaches each phase.</summary>
    internal Action<SwitchPhase>? PhaseReached { get; set; }

    /// <summary>
    /// Loads the cache from the data directory into the selected plugin, importing another plugin's state first when it
    /// owns the directory. Exactly one of the selected plugin's Restore and Adopt runs. Throws
    /// <see cref="PersistenceException"/> with a one-line message when the directory cannot be used.
    /// </summary>
    public RestoreSummary Restore(IRestorableCache cache)
    {
        var marked = DataDirectoryOwner.Read(_directory);
        var owner = marked is null ? FindNewestFiles() : Named(marked);
        if (owner is not null && owner != _selected)
        {
            return Import(owner, cache, pinOwner: marked is null);
        }

        var summary = _selected.Restore(cache);
        if (marked != _selected.Name)
        {
            DataDirectoryOwner.Write(_directory, _selected.Name);
        }
        foreach (var other in _others)
        {
            var retired = SetAside(other);
            if (retired.Count > 0)
            {
                _logger.LogWarning(
                    "Data directory {Directory} belongs to {Owner}; {Other}'s files hold an earlier state (left by an interrupted or older switch): {SetAside}",
                    _directory, _selected.Name, other.Name, Describe(other, retired));
            }
        }
        return summary;
    }

    private RestoreSummary Import(ICachePersistence source, IRestorableCache cache, bool pinOwner)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            source.Restore(cache);
            // Without a marker the owner was only inferred; recorded now, before the new plugin writes files whose
            // times would make it look like the owner.
            if (pinOwner)
            {
                DataDirectoryOwner.Write(_directory, source.Name);
            }
        }
        finally
        {
            source.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        PhaseReached?.Invoke(SwitchPhase.SourceRestored);

        // What this plugin set aside when it last gave the directory away is older than the state it takes now; gone
        // before it opens the directory, so that it never meets those names among its own.
        ChangeFiles($"deleting {_selected.Name}'s files set aside earlier", () => DeleteSetAside(_selected));
        var summary = _selected.Adopt(cache);
        PhaseReached?.Invoke(SwitchPhase.TargetWritten);
        DataDirectoryOwner.Write(_directory, _selected.Name);
        PhaseReached?.Invoke(SwitchPhase.OwnerSwitched);
        var retired = SetAside(source);

        _logger.LogInformation(
            "Data directory {Directory} switched from {Source} to {Target}: imported {Items} items ({Bytes} bytes) in {Milliseconds} ms; {SetAside}",
            _directory, source.Name, _selected.Name, summary.Items, summary.Bytes,
            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, Describe(source, retired));
        return summary;
    }

    private static string Describe(ICachePersistence plugin, List<string> retired) => retired.Count switch
    {
        0 => $"{plugin.Name} had no files to set aside",
        <= 4 => $"set aside {string.Join(", ", retired)} as *{RetiredSuffix}",
        _ => $"set aside {retired[0]} … {retired[^1]} ({retired.Count} files) as *{RetiredSuffix}",
    };

    private ICachePersistence Named(string name)
    {
        if (_selected.Name == name)
        {
            return _selected;
        }
        return _others.FirstOrDefault(plugin => plugin.Name == name)
               ?? throw new PersistenceException(
                   $"data directory {_directory} belongs to a persistence plugin named '{name}' (in {DataDirectoryOwner.FileName}), which this server does not have.");
    }

    /// <summary>
    /// A directory without a marker, from a build before markers: its owner is the plugin whose files were written
    /// last, since each switch by such a build wrote the new plugin's files (a new log, a new data file) after the old
    /// one's. On a tie the selected plugin keeps it. Null when no plugin's files are there.
    /// </summary>
    private ICachePersistence? FindNewestFiles()
    {
        ICachePersistence? newest = null;
        var newestTime = DateTime.MinValue;
        foreach (var plugin in _others.Prepend(_selected))
        {
            foreach (var path in LiveFiles(plugin))
            {
                var written = File.GetLastWriteTimeUtc(path);
                if (written > newestTime)
                {
                    newest = plugin;
                    newestTime = written;
                }
            }
        }
        return newest;
    }

    /// <summary>
    /// Renames <paramref name="plugin"/>'s files to *.imported (after deleting its *.imported files from an earlier
    /// switch, so that the set-aside files are one state) and fsyncs the directory. Returns the names set aside.
    /// </summary>
    private List<string> SetAside(ICachePersistence plugin)
    {
        var live = LiveFiles(plugin);
        if (live.Count == 0)
        {
            return [];
        }
        ChangeFiles($"setting {plugin.Name}'s files aside", () =>
        {
            DeleteSetAside(plugin);
            foreach (var path in live)
            {
                File.Move(path, path + RetiredSuffix, overwrite: true);
            }
            DirectorySync.Flush(_directory);
        });
        return live.Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;
    }

    private void ChangeFiles(string what, Action change)
    {
        try
        {
            change();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"data directory {_directory} cannot be used: {what} failed: {ex.Message}", ex);
        }
    }

    private void DeleteSetAside(ICachePersistence plugin)
    {
        foreach (var path in Directory.EnumerateFiles(_directory, "*" + RetiredSuffix))
        {
            if (plugin.OwnsFile(Path.GetFileName(path)[..^RetiredSuffix.Length]))
            {
                File.Delete(path);
            }
        }
    }

    private List<string> LiveFiles(ICachePersistence plugin)
    {
        try
        {
            if (!Directory.Exists(_directory))
            {
                return [];
            }
            return Directory.EnumerateFiles(_directory)
                .Where(path => Path.GetFileName(path) is var name && !name.EndsWith(RetiredSuffix, StringComparison.Ordinal)
                                                                && plugin.OwnsFile(name))
                .ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"data directory {_directory} cannot be used: {ex.Message}", ex);
        }
    }
}

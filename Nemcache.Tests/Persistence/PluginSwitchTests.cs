using System.Text;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Persistence;

/// <summary>
/// <see cref="PluginSwitch"/> with both real plugins on real files: what a crash at each phase of a switch leaves, and
/// who owns a directory that has no PLUGIN (written by a build before it).
/// </summary>
[TestFixture]
public sealed class PluginSwitchTests
{
    private const string Stream = "stream";
    private const string Bitcask = "bitcask";

    private readonly List<string> _directories = [];
    private readonly List<ICachePersistence> _running = [];
    private readonly ManualTimeProvider _time = new();

    [TearDown]
    public async Task TearDown()
    {
        foreach (var plugin in _running)
        {
            await plugin.DisposeAsync();
        }
        _running.Clear();
        foreach (var directory in _directories.Where(Directory.Exists))
        {
            Directory.Delete(directory, recursive: true);
        }
        _directories.Clear();
    }

    [TestCase(Stream, Bitcask)]
    [TestCase(Bitcask, Stream)]
    public async Task A_crash_at_any_phase_of_a_switch_leaves_a_directory_that_restores_the_whole_cache(string from, string to)
    {
        var directory = NewDirectory();
        var (cache, plugin, _) = Start(from, directory);
        for (var i = 0; i < 300; i++)
        {
            cache.Store(StoreMode.Set, Key($"k{i}"), (uint)i, 0, Value($"value {i}"));
        }
        for (var i = 0; i < 300; i += 7)
        {
            cache.Delete(Key($"k{i}"));
        }
        cache.Touch(Key("k1"), 3600);
        cache.FlushAll(delay: 7200);
        var expected = PersistedCache.VisibleState(cache);
        await Stop(plugin);

        var copies = new Dictionary<SwitchPhase, string>();
        var (switched, _, log) = Start(to, directory, phase => copies[phase] = CopyOf(directory, phase));

        Assert.That(PersistedCache.VisibleState(switched), Is.EquivalentTo(expected), "the switch itself");
        Assert.That(switched.PendingFlushAt, Is.EqualTo(cache.PendingFlushAt));
        Assert.That(log.At(LogLevel.Information), Has.One.Contains($"switched from {from} to {to}: imported {expected.Count} items"));
        Assert.That(copies.Keys, Is.EquivalentTo(Enum.GetValues<SwitchPhase>()));
        foreach (var (phase, copy) in copies)
        {
            foreach (var selected in new[] { to, from })
            {
                var restartDirectory = CopyOf(copy, selected);
                var (restarted, restartedPlugin, _) = Start(selected, restartDirectory);
                Assert.That(PersistedCache.VisibleState(restarted), Is.EquivalentTo(expected),
                    $"a crash at {phase}, then a start with {selected}");
                Assert.That(restarted.PendingFlushAt, Is.EqualTo(cache.PendingFlushAt), $"{phase}, {selected}");
                await Stop(restartedPlugin);
                Assert.That(File.ReadAllText(Path.Combine(restartDirectory, DataDirectoryOwner.FileName)), Is.EqualTo(selected + "\n"));
            }
        }
    }

    [TestCase(Stream, Bitcask, Stream)]
    [TestCase(Stream, Bitcask, Bitcask)]
    [TestCase(Bitcask, Stream, Stream)]
    [TestCase(Bitcask, Stream, Bitcask)]
    public async Task Without_a_marker_the_plugin_whose_files_were_written_last_owns_the_directory(string older, string newer,
        string selected)
    {
        var directory = NewDirectory();
        await WriteWithoutMarker(older, directory, "written by the older plugin");
        foreach (var file in Directory.GetFiles(directory))
        {
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(-10));
        }
        await WriteWithoutMarker(newer, directory, "written by the newer plugin");

        var (cache, _, log) = Start(selected, directory);

        Assert.That(PersistedCache.VisibleState(cache)["key"].Value, Is.EqualTo("written by the newer plugin"));
        Assert.That(PersistedCache.VisibleState(cache), Does.Not.ContainKey(older + "-only"), "the older files are not read");
        Assert.That(File.ReadAllText(Path.Combine(directory, DataDirectoryOwner.FileName)), Is.EqualTo(selected + "\n"));
        var what = selected == newer
            ? $"belongs to {newer}; {older}'s files hold an earlier state"
            : $"switched from {newer} to {selected}: imported 2 items";
        Assert.That(log.Entries.Select(entry => entry.Message), Has.One.Contains(what));
        var setAside = Directory.GetFiles(directory, "*" + PluginSwitch.RetiredSuffix);
        Assert.That(setAside, Is.Not.Empty, "the other plugin's files are set aside");
    }

    private async Task WriteWithoutMarker(string plugin, string directory, string value)
    {
        var cache = new MemCache(new CacheOptions(), _time);
        var persistence = Create(plugin, directory);
        persistence.Restore(cache);
        cache.Subscribe(persistence);
        cache.Store(StoreMode.Set, Key("key"), 0, 0, Value(value));
        cache.Store(StoreMode.Set, Key(plugin + "-only"), 0, 0, Value(value));
        await persistence.CommitAsync();
        await persistence.DisposeAsync();
        if (plugin != Stream)
        {
            return;
        }
        // The archiver writes no file at startup: a stream period began, in a build before markers, with a new log.
        File.SetLastWriteTimeUtc(Path.Combine(directory, "cachelog.bin"), DateTime.UtcNow);
    }

    private (MemCache Cache, ICachePersistence Plugin, ListLogger<PluginSwitch> Log) Start(string selected, string directory,
        Action<SwitchPhase>? phaseReached = null)
    {
        var cache = new MemCache(new CacheOptions(), _time);
        var plugin = Create(selected, directory);
        var other = Create(selected == Stream ? Bitcask : Stream, directory);
        var log = new ListLogger<PluginSwitch>();
        var plugins = new PluginSwitch(directory, plugin, [other], log) { PhaseReached = phaseReached };
        plugins.Restore(cache);
        cache.Subscribe(plugin);
        _running.Add(plugin);
        return (cache, plugin, log);
    }

    private async Task Stop(ICachePersistence plugin)
    {
        _running.Remove(plugin);
        await plugin.CommitAsync();
        await plugin.DisposeAsync();
    }

    private ICachePersistence Create(string plugin, string directory) =>
        PersistenceFactories.All().Single(factory => factory.Name == plugin)
            .Create(new PersistenceOptions { DataDirectory = directory }, _time);

    private string NewDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "nemcache-switch-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        return directory;
    }

    /// <summary>What the disk holds at this instant, as a crash would leave it (without LOCK, which only a live
    /// process holds).</summary>
    private string CopyOf(string directory, object name)
    {
        var copy = NewDirectory() + "-" + name;
        _directories.Add(copy);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(directory))
        {
            if (Path.GetFileName(file) != DataDirectoryLock.FileName)
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }
        }
        return copy;
    }

    private static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    private static byte[] Value(string value) => Encoding.UTF8.GetBytes(value);
}

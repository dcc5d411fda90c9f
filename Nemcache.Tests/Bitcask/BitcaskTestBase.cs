using Microsoft.Extensions.Logging;
using Nemcache.Tests.Support;
using System.Text;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>A fresh data directory per test, and the shortcuts every engine test uses.</summary>
public abstract class BitcaskTestBase
{
    private readonly List<Engine> _open = [];

    protected string DataDirectory { get; private set; } = "";

    internal ManualTimeProvider Clock { get; private set; } = new();

    protected BitcaskOptions Options { get; set; } = new();

    protected PersistenceOptions Persistence => new() { DataDirectory = DataDirectory, Sync = SyncMode.None };

    [SetUp]
    public void CreateDirectory()
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "nemcache-bitcask-" + Guid.NewGuid().ToString("N"));
        Clock = new ManualTimeProvider();
        Options = new BitcaskOptions { MergeMinDeadBytes = long.MaxValue };
    }

    [TearDown]
    public void RemoveDirectory()
    {
        foreach (var engine in _open)
        {
            engine.Abandon();
        }
        _open.Clear();
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    internal Engine Open(string? directory = null, ILogger? logger = null)
    {
        var engine = Engine.Open(
            Persistence with { DataDirectory = directory ?? DataDirectory }, Options, logger, time: Clock);
        _open.Add(engine);
        return engine;
    }

    /// <summary>Closes cleanly (hints written) and opens the directory again.</summary>
    internal Engine Reopen(Engine engine)
    {
        engine.Dispose();
        return Open();
    }

    /// <summary>Drops the engine as a killed process would, and opens the directory again.</summary>
    internal Engine CrashAndReopen(Engine engine)
    {
        engine.Abandon();
        return Open();
    }

    protected static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    internal static string? ValueOf(Engine engine, string key) =>
        engine.TryGet(B(key), out var item) ? Encoding.UTF8.GetString(item.Value) : null;

    /// <summary>Makes the engine's merges stop at <paramref name="phase"/>, throwing what <paramref name="crash"/>
    /// makes, as a crash there would stop them.</summary>
    internal static void StopMergesAt(Engine engine, MergePhase phase, Func<Exception> crash) =>
        engine.MergePhaseReached = reached =>
        {
            if (reached == phase)
            {
                throw crash();
            }
        };

    /// <summary>Puts keys prefix0, prefix1, … with values "prefix-value-0", ….</summary>
    internal static void Fill(Engine engine, string prefix, int count)
    {
        for (var i = 0; i < count; i++)
        {
            engine.Put(B(prefix + i), B($"{prefix}-value-{i}"), 0, 0);
        }
    }

    /// <summary>Checks what <see cref="Fill"/> wrote, except the keys whose numbers are in <paramref name="absent"/>.</summary>
    internal static void AssertFilled(Engine engine, string prefix, int count, params int[] absent)
    {
        Assert.Multiple(() =>
        {
            for (var i = 0; i < count; i++)
            {
                Assert.That(ValueOf(engine, prefix + i), Is.EqualTo(absent.Contains(i) ? null : $"{prefix}-value-{i}"), prefix + i);
            }
        });
    }

    /// <summary>Checks each key's value (null: absent), reporting every mismatch at once.</summary>
    internal static void AssertValues(Engine engine, params (string Key, string? Value)[] expected)
    {
        Assert.Multiple(() =>
        {
            foreach (var (key, value) in expected)
            {
                Assert.That(ValueOf(engine, key), Is.EqualTo(value), key);
            }
        });
    }

    protected string DataFilePath(int id) => Path.Combine(DataDirectory, "data." + id);

    protected int[] DataFileIds()
    {
        var ids = new List<int>();
        foreach (var path in Directory.EnumerateFiles(DataDirectory, "data.*"))
        {
            var name = Path.GetFileName(path);
            if (int.TryParse(name.AsSpan("data.".Length), out var id))
            {
                ids.Add(id);
            }
        }
        ids.Sort();
        return [.. ids];
    }
}

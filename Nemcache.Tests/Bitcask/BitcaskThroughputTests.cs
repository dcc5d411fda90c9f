using System.Diagnostics;
using System.Text;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// Rough figures for docs/bitcask-format.md: append rate and recovery time for a million small items. Explicit: it
/// writes a few hundred MB. Run with: dotnet test -c Release --filter "FullyQualifiedName~BitcaskThroughputTests".
/// </summary>
[Explicit("Measurement; run by hand.")]
public class BitcaskThroughputTests : BitcaskTestBase
{
    private const int Items = 1_000_000;

    [Test]
    public void Appends_and_recovery_of_a_million_items()
    {
        Options = Options with { MaxFileBytes = 64L * 1024 * 1024 };
        var value = new byte[100];
        var keys = new byte[Items][];
        for (var i = 0; i < Items; i++)
        {
            keys[i] = Encoding.ASCII.GetBytes($"user:session:{i:D10}");
        }

        var engine = Open();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Items; i++)
        {
            engine.Put(keys[i], value, 0, 0);
        }
        var append = Stopwatch.GetElapsedTime(started);
        engine.Dispose();

        engine = Open();
        var fromHints = engine.LastRecovery;
        var loaded = 0;
        started = Stopwatch.GetTimestamp();
        engine.ForEachLive(_ => loaded++);
        var load = Stopwatch.GetElapsedTime(started);
        engine.Dispose();

        foreach (var hint in Directory.EnumerateFiles(DataDirectory, "*.hint"))
        {
            File.Delete(hint);
        }
        engine = Open();
        var fromScan = engine.LastRecovery;

        TestContext.Out.WriteLine($"{Items} puts of 23 B keys and 100 B values (sync none): {append.TotalMilliseconds:F0} ms, " +
                                  $"{Items / append.TotalSeconds:F0} puts/s");
        TestContext.Out.WriteLine($"keydir from {fromHints.FilesFromHints} hint files: {fromHints.Elapsed.TotalMilliseconds:F0} ms; " +
                                  $"values read in file order: {load.TotalMilliseconds:F0} ms");
        TestContext.Out.WriteLine($"keydir from scanning {fromScan.Files} data files: {fromScan.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Multiple(() =>
        {
            Assert.That(loaded, Is.EqualTo(Items));
            Assert.That(fromHints.Keys, Is.EqualTo(Items));
            Assert.That(fromScan.Keys, Is.EqualTo(Items));
            Assert.That(fromHints.FilesFromHints, Is.EqualTo(fromHints.Files));
        });
    }
}

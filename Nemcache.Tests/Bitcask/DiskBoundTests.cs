using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// Disk use stays within the bound docs/bitcask-format.md states ("Disk use") at any write rate: when writes outrun
/// merging, a writer's commit waits for a merge instead of letting the disk fill.
/// </summary>
public sealed class DiskBoundTests : BitcaskTestBase
{
    [Test]
    public void Commits_wait_for_merges_that_cannot_keep_up_and_the_data_files_stay_within_the_bound()
    {
        const int Keys = 10;
        var value = new byte[200];
        Options = Options with { MaxFileBytes = 4096, MergeMinDeadBytes = 16 * 1024, MergeFragmentation = 0.5 };
        var engine = Open();
        // Every merge is slow: writes outrun it unless they are held back.
        engine.MergePhaseReached = phase =>
        {
            if (phase == MergePhase.WritingOutputs)
            {
                Thread.Sleep(20);
            }
        };
        var live = (double)Keys * DataRecord.SizeOf("key0".Length, value.Length);
        var f = Options.MergeFragmentation;
        var trigger = Math.Max(Options.MergeMinDeadBytes, f / (1 - f) * live);
        // A writer commits after each batch of Keys puts, so one batch may land past the check before it waits.
        var batch = Keys * DataRecord.SizeOf("key0".Length, value.Length);
        var bound = 2 * (live + 2 * trigger + Math.Min(1 << 20, Options.MaxFileBytes)) + Options.MaxFileBytes + batch;

        long largest = 0;
        for (var round = 0; round < 400; round++)
        {
            for (var i = 0; i < Keys; i++)
            {
                engine.Put(B("key" + i), value, 0, 0);
            }
            engine.MergingCaughtUp().Wait();
            largest = Math.Max(largest, DataBytesOnDisk());
        }

        Assert.That(largest, Is.LessThanOrEqualTo(bound), $"{400 * Keys * DataRecord.SizeOf(4, value.Length)} bytes written");
        Assert.That(engine.GetStatistics().WriterWaits, Is.GreaterThan(0));
        AssertValues(engine, ("key0", new string('\0', value.Length)));
    }

    /// <summary>Data files and merge outputs; hints are an index of them, not counted.</summary>
    private long DataBytesOnDisk() =>
        new DirectoryInfo(DataDirectory).EnumerateFiles()
            .Where(file => !file.Name.EndsWith(BitcaskFormat.HintSuffix, StringComparison.Ordinal))
            .Sum(file => file.Exists ? file.Length : 0);
}

using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// POSIX makes a new, renamed or deleted name durable only by an fsync of its directory: the engine does one after
/// creating a data file, and at each step of a merge that changes names (outputs written, MERGE written, outputs
/// renamed, inputs and MERGE deleted).
/// </summary>
public sealed class DirectorySyncTests : BitcaskTestBase
{
    [Test]
    public void Creating_a_data_file_and_each_naming_step_of_a_merge_sync_the_directory()
    {
        Options = Options with { MaxFileBytes = 200 };
        var engine = Open();
        Assert.That(engine.GetStatistics().DirectoryFsyncs, Is.EqualTo(1), "the first active file");

        engine.Put(B("a"), new byte[150], 0, 0);
        engine.Put(B("a"), new byte[150], 0, 0);
        Assert.That(engine.GetStatistics().DirectoryFsyncs, Is.EqualTo(2), "the rotation's new file");

        engine.MergeAsync().Wait();
        Assert.That(engine.GetStatistics().DirectoryFsyncs, Is.EqualTo(6), "outputs, MERGE, renames, deletions");
    }
}

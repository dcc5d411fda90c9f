using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

/// <summary>The engine's own range checks; the NEMCACHE_BITCASK_* variables are read and named by the Service.</summary>
public class BitcaskOptionsTests
{
    [Test]
    public void Defaults_are_the_documented_ones_and_valid()
    {
        var options = new BitcaskOptions();
        Assert.That((options.MaxFileBytes, options.MergeFragmentation, options.MergeMinDeadBytes),
            Is.EqualTo((256L * 1024 * 1024, 0.5, 64L * 1024 * 1024)));
        Assert.DoesNotThrow(options.Validate);
    }

    [TestCase(10L, 0.5, 0L, 2, "MaxFileBytes")]
    [TestCase(4096L, 1.5, 0L, 2, "MergeFragmentation")]
    [TestCase(4096L, double.NaN, 0L, 2, "MergeFragmentation")]
    [TestCase(4096L, 0.5, -1L, 2, "MergeMinDeadBytes")]
    [TestCase(4096L, 0.5, 0L, 1, "MaxOpenFiles")]
    public void A_value_out_of_range_is_refused_naming_the_setting(long maxFileBytes, double fragmentation, long minDead, int maxOpen, string named)
    {
        var options = new BitcaskOptions
        {
            MaxFileBytes = maxFileBytes, MergeFragmentation = fragmentation, MergeMinDeadBytes = minDead, MaxOpenFiles = maxOpen,
        };
        var refused = Assert.Throws<ArgumentException>(options.Validate);
        Assert.That(refused!.Message, Does.Contain(named));
    }
}

using Nemcache.Storage.Bitcask;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

public class BitcaskOptionsTests
{
    [Test]
    public void Missing_variables_keep_the_documented_defaults()
    {
        var options = BitcaskOptions.FromEnvironment(_ => null);

        Assert.Multiple(() =>
        {
            Assert.That(options.MaxFileBytes, Is.EqualTo(256L * 1024 * 1024));
            Assert.That(options.MergeFragmentation, Is.EqualTo(0.5));
            Assert.That(options.MergeMinDeadBytes, Is.EqualTo(64L * 1024 * 1024));
        });
    }

    [Test]
    public void The_variables_set_the_options()
    {
        var environment = new Dictionary<string, string>
        {
            ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "4096",
            ["NEMCACHE_BITCASK_MERGE_FRAGMENTATION"] = "0.25",
            ["NEMCACHE_BITCASK_MERGE_MIN_DEAD_BYTES"] = " 1000 ",
        };

        var options = BitcaskOptions.FromEnvironment(name => environment.GetValueOrDefault(name));

        Assert.That(options, Is.EqualTo(new BitcaskOptions { MaxFileBytes = 4096, MergeFragmentation = 0.25, MergeMinDeadBytes = 1000 }));
    }

    [TestCase("NEMCACHE_BITCASK_MAX_FILE_BYTES", "lots", "NEMCACHE_BITCASK_MAX_FILE_BYTES")]
    [TestCase("NEMCACHE_BITCASK_MAX_FILE_BYTES", "10", "MaxFileBytes")]
    [TestCase("NEMCACHE_BITCASK_MERGE_FRAGMENTATION", "1.5", "MergeFragmentation")]
    [TestCase("NEMCACHE_BITCASK_MERGE_MIN_DEAD_BYTES", "-1", "MergeMinDeadBytes")]
    public void A_bad_value_is_refused_naming_the_setting(string name, string value, string named)
    {
        var refused = Assert.Throws<ArgumentException>(() => BitcaskOptions.FromEnvironment(n => n == name ? value : null));

        Assert.That(refused!.Message, Does.Contain(named));
    }
}

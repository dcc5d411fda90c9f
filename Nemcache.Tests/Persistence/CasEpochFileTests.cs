using Microsoft.Extensions.Logging.Abstractions;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Persistence;

[TestFixture]
public sealed class CasEpochFileTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = Path.Combine(Path.GetTempPath(), "nemcache-epoch-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void Each_start_takes_an_epoch_no_earlier_start_took_or_reserved()
    {
        var epochs = new List<ulong>();
        for (var run = 0; run < 3; run++)
        {
            epochs.Add(CasEpochFile.Start(_directory, NullLogger.Instance).Next() >> CasSequence.CounterBits);
        }
        // Each run reserves its epoch and the next, which it moves into when its counter runs out.
        Assert.That(epochs, Is.EqualTo(new ulong[] { 1, 3, 5 }));
        Assert.That(File.ReadAllText(Path.Combine(_directory, CasEpochFile.FileName)), Is.EqualTo("00000000000000000006\n"));
    }

    [Test]
    public void Running_over_into_the_reserved_epoch_reserves_the_next_one_durably()
    {
        var sequence = CasEpochFile.Start(_directory, NullLogger.Instance);
        sequence.Observe((2UL << CasSequence.CounterBits) - 1);
        Assert.That(sequence.Next() >> CasSequence.CounterBits, Is.EqualTo(2UL));
        var path = Path.Combine(_directory, CasEpochFile.FileName);
        Assert.That(() => File.ReadAllText(path), Is.EqualTo("00000000000000000003\n").After(10_000, 20));
        Assert.That(CasEpochFile.Start(_directory, NullLogger.Instance).Next() >> CasSequence.CounterBits, Is.EqualTo(4UL));
    }

    [Test]
    public void An_unreadable_record_starts_again_at_epoch_one()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(Path.Combine(_directory, CasEpochFile.FileName), "garbage");
        Assert.That(CasEpochFile.Start(_directory, NullLogger.Instance).Next() >> CasSequence.CounterBits, Is.EqualTo(1UL));
    }

    [Test]
    public void A_data_directory_that_cannot_be_written_is_a_one_line_persistence_error()
    {
        var file = Path.Combine(Path.GetTempPath(), "nemcache-epoch-file-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "");
        try
        {
            var error = Assert.Throws<PersistenceException>(() => CasEpochFile.Start(file, NullLogger.Instance));
            Assert.That(error!.Message, Does.Contain(CasEpochFile.FileName).And.Not.Contain("\n"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}

using Nemcache.Storage.Cache;

namespace Nemcache.Tests.Cache;

[TestFixture]
public sealed class CasSequenceTests
{
    [Test]
    public void Uniques_of_an_epoch_lie_in_that_epoch_only()
    {
        var first = new CasSequence(1);
        var second = new CasSequence(2);
        Assert.That(first.Next(), Is.EqualTo((1UL << CasSequence.CounterBits) + 1));
        Assert.That(second.Next() >> CasSequence.CounterBits, Is.EqualTo(2UL));
    }

    [Test]
    public void Observing_a_restored_cas_moves_later_uniques_above_it()
    {
        var sequence = new CasSequence(1);
        var restored = (3UL << CasSequence.CounterBits) + 17;
        sequence.Observe(restored);
        sequence.Observe(5);
        Assert.That(sequence.Next(), Is.EqualTo(restored + 1));
    }

    [Test]
    public void Running_over_into_the_next_epoch_asks_for_the_one_after_it_to_be_reserved()
    {
        using var entered = new BlockingCollectionOfEpochs();
        var sequence = new CasSequence(4, entered.Add);
        sequence.Observe((5UL << CasSequence.CounterBits) - 2);
        sequence.Next();
        Assert.That(sequence.Next(), Is.EqualTo(5UL << CasSequence.CounterBits));
        Assert.That(entered.Take(), Is.EqualTo(5UL));
    }

    private sealed class BlockingCollectionOfEpochs : IDisposable
    {
        private readonly System.Collections.Concurrent.BlockingCollection<ulong> _epochs = new();

        public void Add(ulong epoch) => _epochs.Add(epoch);

        public ulong Take() => _epochs.TryTake(out var epoch, TimeSpan.FromSeconds(10)) ? epoch : throw new TimeoutException();

        public void Dispose() => _epochs.Dispose();
    }
}

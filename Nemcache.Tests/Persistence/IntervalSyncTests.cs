using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Persistence;

/// <summary>
/// The interval fsync both plugins use, with a timer the test ticks by hand and a stand-in fsync: a tick fsyncs what
/// was written, never while the last tick's fsync runs or while a failure stands, and stopping waits for a running one.
/// The plugins' own interval tests run it against real files.
/// </summary>
public sealed class IntervalSyncTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Test]
    public async Task A_tick_fsyncs_what_was_written_and_nothing_when_nothing_was()
    {
        var fsyncs = 0;
        var groupSync = new GroupSync(() => Interlocked.Increment(ref fsyncs));
        var ticks = new HandTicks();
        await using var intervalSync = new IntervalSync(groupSync, TimeSpan.FromSeconds(1), ticks);

        ticks.Tick();
        groupSync.MarkWritten();
        ticks.Tick();
        await WaitUntil(() => !groupSync.HasUnsynced);
        ticks.Tick();

        Assert.That(Volatile.Read(ref fsyncs), Is.EqualTo(1));
    }

    [Test]
    public async Task A_tick_while_the_last_fsync_runs_does_nothing_and_stopping_waits_for_it()
    {
        using var release = new ManualResetEventSlim();
        var fsyncs = 0;
        var groupSync = new GroupSync(() =>
        {
            Interlocked.Increment(ref fsyncs);
            release.Wait(Patience);
        });
        var ticks = new HandTicks();
        var intervalSync = new IntervalSync(groupSync, TimeSpan.FromSeconds(1), ticks);
        groupSync.MarkWritten();
        ticks.Tick();
        await WaitUntil(() => Volatile.Read(ref fsyncs) == 1);

        groupSync.MarkWritten();
        ticks.Tick();
        var stopped = intervalSync.DisposeAsync().AsTask();
        await Task.Delay(50);
        var stoppedEarly = stopped.IsCompleted;
        release.Set();
        await stopped.WaitAsync(Patience);

        Assert.Multiple(() =>
        {
            Assert.That(stoppedEarly, Is.False, "stopping waits for the running fsync");
            Assert.That(Volatile.Read(ref fsyncs), Is.EqualTo(1), "the second tick came while the first fsync ran");
            Assert.That(ticks.Stopped, Is.True);
        });
    }

    [Test]
    public async Task A_tick_while_a_failure_stands_does_not_fsync()
    {
        var fsyncs = 0;
        var groupSync = new GroupSync(() => Interlocked.Increment(ref fsyncs));
        var ticks = new HandTicks();
        await using var intervalSync = new IntervalSync(groupSync, TimeSpan.FromSeconds(1), ticks);
        groupSync.Failures.Record(new IOException("No space left on device"));
        groupSync.MarkWritten();

        ticks.Tick();
        await Task.Delay(50);

        Assert.That(Volatile.Read(ref fsyncs), Is.Zero, "the repair fsyncs what it writes");
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }
        Assert.That(condition(), Is.True);
    }

    /// <summary>A clock whose one timer fires only when the test calls <see cref="Tick"/>.</summary>
    private sealed class HandTicks : TimeProvider
    {
        private TimerCallback? _callback;
        private object? _state;

        public bool Stopped { get; private set; }

        public void Tick() => _callback!(_state);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _callback = callback;
            _state = state;
            return new HandTimer(this);
        }

        private sealed class HandTimer(HandTicks owner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose() => owner.Stopped = true;

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}

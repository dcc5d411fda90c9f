using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Persistence;

/// <summary>
/// Group commit, with a stand-in for the fsync that the test lets finish one call at a time: commits that arrive while
/// an fsync runs share the next one, and no commit completes on an fsync that began before its record was written.
/// The fsync itself is tested with real files and SIGKILL (Reliability, RestartTests).
/// </summary>
public sealed class GroupSyncTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Test]
    public async Task Commits_that_arrive_while_an_fsync_runs_share_the_next_one()
    {
        var (fsync, groupSync, first) = await StartTheFirstFsyncAsync();

        var later = new List<Task>();
        for (var i = 0; i < 10; i++)
        {
            groupSync.MarkWritten();
            later.Add(groupSync.SyncAsync().AsTask());
        }
        fsync.Finish();
        fsync.Finish();
        await Task.WhenAll(later.Append(first)).WaitAsync(Patience);

        Assert.That(fsync.Calls, Is.EqualTo(2), "one fsync for the first commit, one shared by the ten that waited");
        Assert.That(groupSync.SyncCount, Is.EqualTo(2));
    }

    [Test]
    public async Task A_commit_asked_for_while_an_fsync_runs_waits_for_the_next_one()
    {
        var (fsync, groupSync, first) = await StartTheFirstFsyncAsync();
        groupSync.MarkWritten();
        var second = groupSync.SyncAsync().AsTask();

        fsync.Finish();
        await first.WaitAsync(Patience);
        await fsync.WaitUntilRunningAsync();

        Assert.That(second.IsCompleted, Is.False, "the fsync that was running may have missed the second record");
        fsync.Finish();
        await second.WaitAsync(Patience);
    }

    [Test]
    public async Task A_record_written_while_an_fsync_runs_is_not_counted_as_synced_by_it()
    {
        var (fsync, groupSync, first) = await StartTheFirstFsyncAsync();
        groupSync.MarkWritten();
        fsync.Finish();
        await first.WaitAsync(Patience);

        Assert.That(groupSync.HasUnsynced, Is.True);
        var second = groupSync.SyncAsync().AsTask();
        await fsync.WaitUntilRunningAsync();
        Assert.That(second.IsCompleted, Is.False);
        fsync.Finish();
        await second.WaitAsync(Patience);
        Assert.That(groupSync.HasUnsynced, Is.False);
    }

    [Test]
    public async Task A_failed_fsync_sticks_until_a_repair_that_began_after_it_ends()
    {
        var calls = 0;
        var groupSync = new GroupSync(() =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new IOException("Input/output error");
            }
        });
        groupSync.MarkWritten();
        var earlyRepair = groupSync.Failures.BeginRepair();

        Assert.That(async () => await groupSync.SyncAsync(), Throws.TypeOf<PersistenceException>());
        Assert.That(groupSync.Failures.Current?.Message, Does.Contain("Input/output error"));
        // A later fsync could succeed without the pages the failed one lost, so none is tried.
        groupSync.MarkWritten();
        Assert.That(async () => await groupSync.SyncAsync(), Throws.TypeOf<PersistenceException>());
        Assert.That(calls, Is.EqualTo(1));
        Assert.That(groupSync.Failures.Repaired(earlyRepair), Is.False, "a repair that began before the failure cannot end it");

        Assert.That(groupSync.Failures.Repaired(groupSync.Failures.BeginRepair()), Is.True);
        await groupSync.SyncAsync().AsTask().WaitAsync(Patience);
        Assert.That(calls, Is.EqualTo(2));
        Assert.That(groupSync.HasUnsynced, Is.False);
    }

    [Test]
    public async Task Commits_queued_behind_a_failing_fsync_fail_without_an_fsync()
    {
        var fsync = new SteppedFsync { FailNext = true };
        var outages = new List<Exception>();
        var groupSync = new GroupSync(fsync.Run, new FailureLatch(outages.Add));
        groupSync.MarkWritten();
        var first = groupSync.SyncAsync().AsTask();
        await fsync.WaitUntilRunningAsync();
        groupSync.MarkWritten();
        var queued = groupSync.SyncAsync().AsTask();

        fsync.Finish();

        Assert.That(async () => await first.WaitAsync(Patience), Throws.TypeOf<PersistenceException>());
        Assert.That(async () => await queued.WaitAsync(Patience), Throws.TypeOf<PersistenceException>());
        Assert.That(fsync.Calls, Is.EqualTo(1), "the queued round must not fsync after the failure");
        Assert.That(outages, Has.Count.EqualTo(1), "the plugin is told once");
        Assert.That(groupSync.Failures.Count, Is.EqualTo(1));
    }

    [Test]
    public void A_commit_with_nothing_written_does_not_fsync()
    {
        var calls = 0;
        var groupSync = new GroupSync(() => calls++);

        Assert.That(groupSync.SyncAsync().IsCompletedSuccessfully, Is.True);
        Assert.That(calls, Is.Zero);
    }

    /// <summary>One record written and committed, its fsync running and held until the test finishes it.</summary>
    private static async Task<(SteppedFsync Fsync, GroupSync GroupSync, Task First)> StartTheFirstFsyncAsync()
    {
        var fsync = new SteppedFsync();
        var groupSync = new GroupSync(fsync.Run);
        groupSync.MarkWritten();
        var first = groupSync.SyncAsync().AsTask();
        await fsync.WaitUntilRunningAsync();
        return (fsync, groupSync, first);
    }

    /// <summary>An fsync that returns only when the test says so, one call per <see cref="Finish"/>.</summary>
    private sealed class SteppedFsync
    {
        private readonly SemaphoreSlim _running = new(0);
        private readonly SemaphoreSlim _finish = new(0);
        private int _calls;

        /// <summary>The next call fails with EIO once the test lets it finish.</summary>
        public bool FailNext { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public void Run()
        {
            Interlocked.Increment(ref _calls);
            _running.Release();
            if (!_finish.Wait(Patience))
            {
                throw new IOException("the test never let this fsync finish");
            }
            if (FailNext)
            {
                FailNext = false;
                throw new IOException("Input/output error");
            }
        }

        public async Task WaitUntilRunningAsync()
        {
            Assert.That(await _running.WaitAsync(Patience), Is.True, "no fsync started");
        }

        public void Finish() => _finish.Release();
    }
}

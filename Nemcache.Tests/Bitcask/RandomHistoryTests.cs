using System.Text;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;
using NUnit.Framework;
using Engine = Nemcache.Storage.Bitcask.Bitcask;

namespace Nemcache.Tests.Bitcask;

/// <summary>
/// Long random histories of puts, deletes, touches, flushes (now and delayed), clock jumps, merges, crashes and clean
/// restarts, driven the way the cache drives the engine, checked against a plain dictionary after every restart.
/// Merges also start by themselves (thresholds near zero), so they overlap the writes; some are killed at a phase.
/// </summary>
public class RandomHistoryTests : BitcaskTestBase
{
    private const int KeyCount = 40;

    private readonly Dictionary<string, (string Value, uint Flags, long ExpiresAt)> _model = [];
    private long? _pendingFlush;

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(213)]
    [TestCase(222)]
    [TestCase(238)]
    public void The_engine_agrees_with_a_model_through_merges_and_crashes(int seed)
    {
        Options = Options with { MaxFileBytes = 400, MergeMinDeadBytes = 0, MergeFragmentation = 0.3 };
        _model.Clear();
        _pendingFlush = null;
        var random = new Random(seed);
        var engine = Open();
        for (var step = 0; step < 3000; step++)
        {
            CarryOutDueFlush(engine);
            var key = "key" + random.Next(KeyCount);
            var live = IsLive(key);
            switch (random.Next(100))
            {
                case < 40:
                    var value = $"{key}-{step}-" + new string('v', random.Next(60));
                    var expiresAt = random.Next(4) == 0 ? Clock.UnixSeconds + random.Next(1, 40) : 0;
                    engine.Put(B(key), B(value), (uint)step, expiresAt);
                    _model[key] = (value, (uint)step, expiresAt);
                    break;
                case < 52 when live:
                    engine.Delete(B(key));
                    _model.Remove(key);
                    break;
                case < 64 when live:
                    var touchedTo = Clock.UnixSeconds + random.Next(1, 60);
                    Assert.That(engine.Touch(B(key), touchedTo), Is.True, $"step {step}: touch {key}");
                    _model[key] = _model[key] with { ExpiresAt = touchedTo };
                    break;
                case < 66:
                    engine.Flush();
                    _model.Clear();
                    _pendingFlush = null;
                    break;
                case < 68:
                    _pendingFlush = Clock.UnixSeconds + random.Next(1, 30);
                    engine.ScheduleFlush(_pendingFlush.Value);
                    break;
                case < 78:
                    Clock.AdvanceSeconds(random.Next(1, 8));
                    break;
                case < 83:
                    engine.MergeAsync().Wait();
                    break;
                case < 88:
                    engine.MergeFragmentedAsync().Wait();
                    break;
                case < 90:
                    engine = CrashAndReopen(engine);
                    AfterRestart(engine, step);
                    break;
                case < 92:
                    engine = KillAMerge(engine, (MergePhase)random.Next(Enum.GetValues<MergePhase>().Length));
                    AfterRestart(engine, step);
                    break;
                case < 94:
                    engine = Reopen(engine);
                    AfterRestart(engine, step);
                    break;
            }
        }
        engine = CrashAndReopen(engine);
        AfterRestart(engine, -1);
    }

    /// <summary>Crashes the process when a merge reaches <paramref name="phase"/>. An automatic merge already queued
    /// may be the one that meets it; either way the directory is left as that crash leaves it.</summary>
    private Engine KillAMerge(Engine engine, MergePhase phase)
    {
        StopMergesAt(engine, phase, () => new InvalidOperationException("killed at " + phase));
        try
        {
            engine.MergeAsync().Wait();
        }
        catch (AggregateException ex) when (ex.InnerException is InvalidOperationException or PersistenceException)
        {
            // The crash itself, or (when a queued automatic merge met it first, past its commit) the refusal to merge
            // again before a restart.
        }
        return CrashAndReopen(engine);
    }

    /// <summary>What the cache does on its next operation once a delayed flush's time has come.</summary>
    private void CarryOutDueFlush(Engine engine)
    {
        if (_pendingFlush is { } at && at <= Clock.UnixSeconds)
        {
            engine.Flush();
            _model.Clear();
            _pendingFlush = null;
        }
    }

    private void AfterRestart(Engine engine, int step)
    {
        if (_pendingFlush is { } at && at <= Clock.UnixSeconds)
        {
            _model.Clear();
            _pendingFlush = null;
        }
        Assert.Multiple(() =>
        {
            Assert.That(engine.PendingFlushAt, Is.EqualTo(_pendingFlush), $"step {step}: pending flush");
            for (var k = 0; k < KeyCount; k++)
            {
                var key = "key" + k;
                var found = engine.TryGet(B(key), out var item);
                Assert.That(found, Is.EqualTo(IsLive(key)), $"step {step}: {key} present");
                if (found && _model.TryGetValue(key, out var want))
                {
                    Assert.That(Encoding.UTF8.GetString(item.Value), Is.EqualTo(want.Value), $"step {step}: {key}");
                    Assert.That(item.Flags, Is.EqualTo(want.Flags), $"step {step}: {key} flags");
                    Assert.That(item.ExpiresAt, Is.EqualTo(want.ExpiresAt), $"step {step}: {key} expiry");
                }
            }
        });
    }

    private bool IsLive(string key) =>
        _model.TryGetValue(key, out var item) && (item.ExpiresAt == 0 || item.ExpiresAt > Clock.UnixSeconds);
}

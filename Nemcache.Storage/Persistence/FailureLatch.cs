namespace Nemcache.Storage.Persistence;

/// <summary>
/// A plugin's failure state, and the rule for it: once a write or an fsync has failed, the plugin's files may miss a
/// change the cache made, so the plugin stays failed (<see cref="ICachePersistence.Failure"/> set, mutations refused,
/// commits throw) until a repair that began after the last failure has made its files whole again. An fsync failure
/// counts exactly as a failed write does: after one, Linux may have dropped the pages it could not write and marked
/// them clean, so a later fsync succeeds without them and cannot vouch for anything written before it.
/// </summary>
public sealed class FailureLatch
{
    private readonly Lock _gate = new();
    private readonly Action<Exception>? _outageBegan;
    private Exception? _failure;
    private long _count;

    /// <param name="outageBegan">Told of the failure that begins each outage (once, not for every failure while the
    /// plugin is failed), so that the plugin logs it and starts repairing. Called on the failing thread, without locks.</param>
    public FailureLatch(Action<Exception>? outageBegan = null) => _outageBegan = outageBegan;

    /// <summary>The failure that began the current outage, or null while the plugin's files are whole.</summary>
    public Exception? Current => Volatile.Read(ref _failure);

    /// <summary>Failures recorded since start (writes and fsyncs), for stats.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Record(Exception failure)
    {
        bool began;
        lock (_gate)
        {
            _count++;
            began = _failure is null;
            _failure ??= failure;
        }
        if (began)
        {
            _outageBegan?.Invoke(failure);
        }
    }

    /// <summary>Marks the start of a repair: pass the result to <see cref="Repaired"/> once the repair has made every
    /// change the cache made up to now durable (written and fsynced) in the plugin's files.</summary>
    public long BeginRepair() => Count;

    /// <summary>Ends the outage, unless a failure was recorded after <paramref name="repairBegan"/>: the repair cannot
    /// vouch for a change that failed while it ran. Returns whether the plugin is now whole.</summary>
    public bool Repaired(long repairBegan)
    {
        lock (_gate)
        {
            if (_count == repairBegan)
            {
                _failure = null;
            }
            return _failure is null;
        }
    }
}

using Nemcache.Storage.Cache;
using Nemcache.Storage.Notifications;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// The persistence contract: what a plugin (StreamArchiver, BitcaskStore) implements so that the cache survives a
/// restart. A plugin sees the cache only as <see cref="IRestorableCache"/>. The host drives it in this order:
/// <list type="number">
/// <item><see cref="Restore"/> once, before the listener opens, to load the cache from disk;</item>
/// <item><see cref="IRestorableCache.Subscribe"/> with the plugin, so that every later change reaches
/// <see cref="ICacheObserver.OnChange"/>, which appends it to the plugin's log;</item>
/// <item><see cref="CommitAsync"/> by each connection after a batch of commands and before their replies are sent,
/// so that no reply promises more than the sync mode does;</item>
/// <item><see cref="IAsyncDisposable.DisposeAsync"/> at shutdown, after the last connection is done: it flushes and
/// fsyncs everything and releases the files.</item>
/// </list>
/// </summary>
public interface ICachePersistence : ICacheObserver, IAsyncDisposable
{
    /// <summary>A short name for logs and stats ("stream", "bitcask").</summary>
    string Name { get; }

    /// <summary>
    /// Rebuilds the cache from disk through <see cref="IRestorableCache.RestoreItem"/> and
    /// <see cref="IRestorableCache.RestoreFlushDeadline"/>. Once it holds the data directory's lock, and before it restores
    /// anything, it gives the cache this run's CAS sequence (<see cref="CasEpochFile.Start"/>), so that no CAS unique
    /// handed out from now on repeats one handed out before. Throws <see cref="PersistenceException"/> with a one-line message
    /// when the data directory cannot be used; recoverable damage (a torn tail, a bad record) is repaired or skipped
    /// and reported in the summary instead.
    /// </summary>
    RestoreSummary Restore(IRestorableCache cache);

    /// <summary>
    /// <see cref="Restore"/>'s counterpart when the data directory changes hands (<see cref="PluginSwitch"/>): instead
    /// of reading its own files, the plugin takes the cache's current state, which the previous owner's Restore has
    /// just loaded, as its whole state. It replaces whatever files of its own the directory holds (an earlier state)
    /// with that state and makes them durable, files and directory fsynced, before it returns; then it runs as after
    /// a Restore. The cache already counts CAS uniques in this run's epoch, set by that Restore. Throws
    /// <see cref="PersistenceException"/> as Restore does.
    /// </summary>
    RestoreSummary Adopt(IRestorableCache cache);

    /// <summary>
    /// Whether <paramref name="fileName"/>, a name in the data directory, is one of the files this plugin keeps its
    /// state in: what <see cref="PluginSwitch"/> looks for in a directory without an owner marker, and sets aside once
    /// another plugin has taken the state over.
    /// </summary>
    bool OwnsFile(string fileName);

    /// <summary>
    /// Completes when every change this plugin has received so far is as durable as the sync mode promises:
    /// written to the OS (interval, none) or fsynced (always). Throws <see cref="PersistenceException"/> when that cannot
    /// be done (a full disk, say), so that the caller can answer SERVER_ERROR.
    /// </summary>
    ValueTask CommitAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Reclaims the space dead records take, now, in the background, while the cache keeps serving: the stream log is
    /// rewritten from the cache, Bitcask merges its immutable files. Both also do this on their own thresholds; this is
    /// the operator's trigger (SIGUSR1). Completes when the work is done.
    /// </summary>
    Task CompactAsync();

    /// <summary>
    /// Why the plugin cannot make changes durable right now (a full disk, say), or null when it can. While it is set,
    /// the host refuses mutations with SERVER_ERROR instead of making changes that no log would hold. (The batch whose
    /// write failed first cannot be answered so: its <see cref="CommitAsync"/> throws and its connection is closed.)
    /// </summary>
    string? Failure { get; }

    /// <summary>The plugin's own figures for `stats`, as name/value pairs.</summary>
    IEnumerable<KeyValuePair<string, string>> GetStats();
}

/// <summary>What a restore did, for the startup log line.</summary>
public sealed record RestoreSummary(long Items, long Bytes, TimeSpan Elapsed, string Details);

/// <summary>A persistence failure that the host reports in one line (at startup) or as SERVER_ERROR (at run time).</summary>
public sealed class PersistenceException(string message, Exception? inner = null) : Exception(message, inner);

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// The one rule for letting a key's record vanish from the files: a merge that does not copy it, a load that drops a
/// key whose record is damaged, or the swap that forgets a key a merge could not copy.
/// <para>
/// Recovery resolves a key by its highest sequence number among the records it finds. So when the record that made a
/// key dead (a tombstone, an expired put or touch, a record lost to damage) disappears, any older put of that key still
/// on disk wins the next recovery: an overwritten or deleted value comes back, and may never expire. A record may
/// therefore vanish without a tombstone only when no older record of its key can outlive it: every record that stays
/// on disk has a higher sequence number, or the last flush marker covers it (the marker stays on disk for as long as
/// anything older does, by this same rule).
/// </para>
/// </summary>
internal static class RecordDropRule
{
    /// <param name="seq">The sequence number of the record that would vanish.</param>
    /// <param name="lowestSurvivingSeq">The lowest sequence number of any record that stays on disk (in the files the
    /// operation leaves alone); long.MaxValue when there is none.</param>
    /// <param name="lastFlushSeq">The sequence number of the last immediate flush marker (0 when none).</param>
    public static bool MayDropWithoutTombstone(long seq, long lowestSurvivingSeq, long lastFlushSeq) =>
        seq < lowestSurvivingSeq || seq < lastFlushSeq;
}

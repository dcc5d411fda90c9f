namespace Nemcache.Storage.Persistence;

/// <summary>
/// A stretch of a persistence file that recovery could not use, and why. Both plugins report damage with it, in the one
/// wording that operators and tests/corrupt.py read: "B bytes at offset O: REASON". Offset and Length are in bytes of
/// the file it was found in; Reason is one line for a person.
/// </summary>
public sealed record LogDamage(long Offset, long Length, string Reason)
{
    /// <summary>The one wording of damage in logs and tool output; scripts parse it, so it does not change.</summary>
    public override string ToString() => $"{Length} bytes at offset {Offset}: {Reason}";
}

namespace Nemcache.Storage.Persistence;

/// <summary>
/// A stretch of a persistence file that recovery could not use, and why. Both plugins report damage with it, in the one
/// wording that operators and tests/corrupt.py read: "B bytes at offset O: REASON".
/// </summary>
internal sealed record LogDamage(long Offset, long Length, string Reason)
{
    public override string ToString() => $"{Length} bytes at offset {Offset}: {Reason}";
}

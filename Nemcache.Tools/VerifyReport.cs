using Nemcache.Storage.Persistence;

namespace Nemcache.Tools;

/// <summary>
/// What <c>nemcache-data verify</c> found, one line each: <c>ok</c> for a file that checked clean, <c>DAMAGE</c> for
/// bytes the server would skip, cut or ignore, <c>note</c> for what is not damage (a merge or compaction under way, a
/// record still being written). Damage decides the exit code.
/// </summary>
internal sealed class VerifyReport(TextWriter output) : IVerifyFindings
{
    public int DamageCount { get; private set; }

    public void Ok(string file, string what) => output.WriteLine($"ok {file}: {what}");

    public void Damage(string file, string what)
    {
        DamageCount++;
        output.WriteLine($"DAMAGE {file}: {what}");
    }

    public void Note(string file, string what) => output.WriteLine($"note {file}: {what}");

    public int Finish()
    {
        output.WriteLine(DamageCount == 0 ? "clean" : $"damaged: {DamageCount} finding(s)");
        return DamageCount == 0 ? ExitCodes.Clean : ExitCodes.Damaged;
    }
}

/// <summary>nemcache-data's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>verify found nothing wrong; dump and stats did their work.</summary>
    public const int Clean = 0;
    /// <summary>verify found damage, or a file is not one this build reads.</summary>
    public const int Damaged = 1;
    /// <summary>Bad arguments, or no data directory to work on.</summary>
    public const int Usage = 2;
}

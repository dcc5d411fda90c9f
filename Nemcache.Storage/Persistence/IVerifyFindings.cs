namespace Nemcache.Storage.Persistence;

/// <summary>
/// Where a read-only check of a plugin's files reports what it found, one finding per file and line: a file that
/// checked clean, damage (bytes the server would skip, cut or ignore), or a note on what is not damage (a merge or
/// compaction under way, a record still being written). <paramref name="file"/> is the file's name in the directory.
/// </summary>
public interface IVerifyFindings
{
    /// <summary>The file checked clean; <paramref name="what"/> says what was checked.</summary>
    void Ok(string file, string what);

    /// <summary>Bytes the server would skip, cut or ignore, and why.</summary>
    void Damage(string file, string what);

    /// <summary>Something worth knowing that is not damage.</summary>
    void Note(string file, string what);
}

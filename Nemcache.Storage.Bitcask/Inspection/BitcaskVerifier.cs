using System.Buffers.Binary;
using Nemcache.Storage.Persistence;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// Checks a Bitcask directory with the plugin's own readers: every data file's header and every record's CRC (a scan,
/// as recovery does without a hint), every hint's CRC, stamp and length (as recovery checks it before trusting it),
/// and that each hint lists exactly the records its data file holds. Read-only and lock-free, so it may run beside a
/// server that is writing the directory: what changes under it is reported as a note, not as damage. Public as the
/// engine's check of its own files, for nemcache-data verify.
/// </summary>
public static class BitcaskVerifier
{
    /// <summary>How often the newest file is scanned again when it grew during a scan that ended in a torn record.</summary>
    private const int ScansOfAGrowingFile = 5;

    /// <summary>How long a hint that fails its check is given to be finished by a server writing it.</summary>
    private static readonly TimeSpan HintWritePause = TimeSpan.FromMilliseconds(500);

    /// <summary>Checks every data file, hint and merge leftover of <paramref name="directory"/>, reporting each file's
    /// finding to <paramref name="report"/>; it never throws for damage, only reports it.</summary>
    public static void Verify(string directory, IVerifyFindings report)
    {
        var ids = new List<int>();
        var orphanHints = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory, DataPrefix + "*"))
        {
            var name = Path.GetFileName(path);
            if (Recovery.TryParseDataId(name, out var id))
            {
                ids.Add(id);
            }
            else if (name.EndsWith(HintSuffix, StringComparison.Ordinal) &&
                     Recovery.TryParseDataId(name[..^HintSuffix.Length], out var hinted) &&
                     !File.Exists(Path.Combine(directory, DataFileName(hinted))))
            {
                orphanHints.Add(path);
            }
        }
        foreach (var path in orphanHints)
        {
            ReportOrphanHint(path, report);
        }
        ids.Sort();
        // One file is open at a time; it is only read.
        var handles = new FileHandleBudget(2, FileAccess.Read);
        foreach (var id in ids)
        {
            VerifyDataFile(directory, id, newest: id == ids[^1], handles, report);
        }
        if (File.Exists(Path.Combine(directory, MergeCommitFileName)))
        {
            report.Note(MergeCommitFileName, "a merge is being committed, or a crash interrupted one (the server finishes it at start)");
        }
        foreach (var output in Directory.EnumerateFiles(directory, MergeOutputPrefix + "*"))
        {
            report.Note(Path.GetFileName(output), "a merge output: a merge under way, or one a crash interrupted (the server deletes it at start)");
        }
    }

    /// <summary>
    /// A hint whose data file is gone. One that never got past its header was begun for a file that a merge then
    /// removed: it never listed a record, so nothing is lost with it. A complete one means its data file was lost.
    /// </summary>
    private static void ReportOrphanHint(string path, IVerifyFindings report)
    {
        var name = Path.GetFileName(path);
        var hint = new FileInfo(path);
        if (!hint.Exists)
        {
            // A running server's merge or restart removed it after the listing.
            return;
        }
        if (hint.Length <= FileHeaderSize)
        {
            report.Note(name, "an unfinished hint of a data file that a merge removed (the server deletes it at start)");
        }
        else
        {
            report.Damage(name, "a hint without its data file: every record of that file is lost");
        }
    }

    private static void VerifyDataFile(string directory, int id, bool newest, FileHandleBudget handles, IVerifyFindings report)
    {
        var name = DataFileName(id);
        var path = Path.Combine(directory, name);
        DataFile? file = null;
        try
        {
            ScanResult scan;
            Fingerprint records;
            bool grew;
            var scans = 0;
            do
            {
                file?.Dispose();
                file = DataFile.Open(path, id, handles, out var problem);
                if (problem is not null)
                {
                    if (newest && file.Length < FileHeaderSize)
                    {
                        report.Note(name, $"an unfinished newest file of {file.Length} bytes (a crash while it was created; the server removes it)");
                    }
                    else
                    {
                        report.Damage(name, $"not a data file this build reads: {problem}");
                    }
                    return;
                }
                records = new Fingerprint();
                scan = file.Scan(records.Add);
                grew = newest && new FileInfo(path).Length != file.Length;
            } while (scan.TornTail && grew && ++scans < ScansOfAGrowingFile);

            foreach (var damage in scan.Skipped)
            {
                report.Damage(name, $"damaged record, {damage}");
            }
            if (scan.TornTail)
            {
                var tail = new LogDamage(scan.ValidLength, file.Length - scan.ValidLength,
                    newest ? DamageReport.TornRecord : DamageReport.DamagedLastRecord);
                if (grew)
                {
                    report.Note(name, $"the last record was still being written at offset {tail.Offset}; not checked");
                }
                else
                {
                    report.Damage(name, newest ? $"{tail} (the server cuts it at start)" : $"{tail}");
                }
            }
            var hint = VerifyHint(file, records, report);
            if (scan.Skipped.Count == 0 && !scan.TornTail)
            {
                report.Ok(name, $"{records.Count} records, {file.Length} bytes, {hint}");
            }
        }
        catch (FileNotFoundException)
        {
            report.Note(name, "removed while verify ran (a merge replaced it)");
        }
        finally
        {
            file?.Dispose();
        }
    }

    /// <summary>Checks the file's hint, if it has one; returns how it went, for the file's ok line.</summary>
    private static string VerifyHint(DataFile file, Fingerprint records, IVerifyFindings report)
    {
        var name = Path.GetFileName(file.HintPath);
        if (!File.Exists(file.HintPath))
        {
            return "no hint";
        }
        try
        {
            return CheckHint(file, records, report);
        }
        catch (FileNotFoundException)
        {
            report.Note(name, "removed while verify ran (a merge replaced its data file)");
            return "hint removed";
        }
    }

    private static string CheckHint(DataFile file, Fingerprint records, IVerifyFindings report)
    {
        var name = Path.GetFileName(file.HintPath);
        var hinted = new Fingerprint();
        var before = new FileInfo(file.HintPath);
        var intact = HintFile.TryLoad(file, hinted.Add);
        if (!intact)
        {
            // A running server may be writing it: look again once it had time to finish.
            Thread.Sleep(HintWritePause);
            hinted = new Fingerprint();
            intact = HintFile.TryLoad(file, hinted.Add);
            var after = new FileInfo(file.HintPath);
            if (!intact && !File.Exists(file.Path))
            {
                report.Note(Path.GetFileName(file.Path), "removed while verify ran (a merge replaced it)");
                return "removed";
            }
            if (!intact && after.Exists && (after.Length != before.Length || after.LastWriteTimeUtc != before.LastWriteTimeUtc))
            {
                report.Note(name, "being written; not checked");
                return "hint not checked";
            }
            if (!intact && after.Length <= FileHeaderSize)
            {
                report.Note(name, "an unfinished hint, which lists nothing (the server ignores it and scans the data file)");
                return "hint unfinished";
            }
        }
        if (!intact)
        {
            report.Damage(name, $"damaged, or it does not describe {Path.GetFileName(file.Path)} (the server ignores it and scans the data file)");
            return "hint damaged";
        }
        if (!hinted.Matches(records))
        {
            report.Damage(name, $"lists {hinted.Count} records where {Path.GetFileName(file.Path)} holds {records.Count} readable ones, or lists them differently (the server trusts the hint)");
            return "hint differs";
        }
        return "hint agrees";
    }

    /// <summary>A count and an order-sensitive CRC of every field a hint repeats, to compare a hint with its data file.</summary>
    private sealed class Fingerprint
    {
        private const int FixedFields = 1 + 8 + 8 + 2 + 4 + 8;
        private readonly System.IO.Hashing.Crc32 _crc = Crc32C.Create();

        public long Count { get; private set; }

        public void Add(in RecordInfo record, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            Span<byte> fields = stackalloc byte[FixedFields];
            fields[0] = (byte)record.Type;
            BinaryPrimitives.WriteInt64LittleEndian(fields[1..], record.Seq);
            BinaryPrimitives.WriteInt64LittleEndian(fields[9..], record.ExpiresAt);
            BinaryPrimitives.WriteUInt16LittleEndian(fields[17..], (ushort)record.KeySize);
            BinaryPrimitives.WriteInt32LittleEndian(fields[19..], record.ValueSize);
            BinaryPrimitives.WriteInt64LittleEndian(fields[23..], record.RecordOffset);
            _crc.Append(fields);
            _crc.Append(key);
            Count++;
        }

        public bool Matches(Fingerprint other) => other.Count == Count && other._crc.GetCurrentHashAsUInt32() == _crc.GetCurrentHashAsUInt32();
    }
}

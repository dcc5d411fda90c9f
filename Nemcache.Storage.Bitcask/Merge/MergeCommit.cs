using System.Buffers.Binary;
using Nemcache.Storage.Persistence;
using Microsoft.Extensions.Logging;
using static Nemcache.Storage.Bitcask.BitcaskFormat;

namespace Nemcache.Storage.Bitcask;

/// <summary>
/// MERGE: the commit point of a merge. Once it is on disk, the merge's outputs replace its inputs even if the process
/// dies before it has renamed the one and deleted the other; recovery finishes the job. Without it (or with a torn
/// one), recovery throws the outputs away and the inputs stand. Layout: file header, input count (4), input ids (4
/// each), output count (4), output ids (4 each), CRC-32C of everything before (4).
/// </summary>
internal static class MergeCommit
{
    public static void Write(string directory, IReadOnlyList<int> inputs, IReadOnlyList<int> outputs)
    {
        var bytes = new byte[FileHeaderSize + 4 + 4 * inputs.Count + 4 + 4 * outputs.Count + 4];
        WriteFileHeader(bytes, MergeCommitMagic, stamp: 0);
        var at = FileHeaderSize;
        at = WriteIds(bytes, at, inputs);
        at = WriteIds(bytes, at, outputs);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), Crc32C.Compute(bytes.AsSpan(0, at)));
        using var stream = new FileStream(Path.Combine(directory, MergeCommitFileName),
            OwnerOnlyFiles.Options(System.IO.FileMode.Create, FileAccess.Write, FileShare.None));
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    public static void Remove(string directory) => File.Delete(Path.Combine(directory, MergeCommitFileName));

    /// <summary>
    /// At startup, before any data file is read: finishes a committed merge (renames its outputs, deletes its inputs)
    /// or forgets an uncommitted one. Leftover merge outputs are deleted either way.
    /// </summary>
    public static void Resolve(string directory, ILogger logger)
    {
        var path = Path.Combine(directory, MergeCommitFileName);
        if (File.Exists(path))
        {
            if (TryRead(File.ReadAllBytes(path), out var inputs, out var outputs))
            {
                foreach (var id in outputs)
                {
                    var output = Path.Combine(directory, MergeOutputFileName(id));
                    if (File.Exists(output))
                    {
                        File.Move(output, Path.Combine(directory, DataFileName(id)), overwrite: true);
                    }
                }
                DirectorySync.Flush(directory);
                foreach (var id in inputs)
                {
                    File.Delete(Path.Combine(directory, HintFileName(id)));
                    File.Delete(Path.Combine(directory, DataFileName(id)));
                }
                logger.LogWarning("Finished an interrupted merge: {Outputs} output files replace {Inputs} input files", outputs.Length, inputs.Length);
            }
            else
            {
                logger.LogWarning("Discarded an interrupted merge: its commit file is incomplete");
            }
            File.Delete(path);
            DirectorySync.Flush(directory);
        }
        foreach (var leftover in Directory.EnumerateFiles(directory, MergeOutputPrefix + "*"))
        {
            // Only names a merge writes: anything else is someone's copy, and is left alone.
            if (Recovery.TryParseId(Path.GetFileName(leftover), MergeOutputPrefix, out _))
            {
                File.Delete(leftover);
            }
        }
    }

    private static int WriteIds(byte[] bytes, int at, IReadOnlyList<int> ids)
    {
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), ids.Count);
        at += 4;
        foreach (var id in ids)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), id);
            at += 4;
        }
        return at;
    }

    private static bool TryRead(ReadOnlySpan<byte> bytes, out int[] inputs, out int[] outputs)
    {
        inputs = outputs = [];
        if (bytes.Length < FileHeaderSize + 12 || CheckFileHeader(bytes, MergeCommitMagic, out _) is not null)
        {
            return false;
        }
        var body = bytes[..^4];
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]) != Crc32C.Compute(body))
        {
            return false;
        }
        var at = FileHeaderSize;
        return TryReadIds(body, ref at, out inputs) && TryReadIds(body, ref at, out outputs) && at == body.Length;
    }

    private static bool TryReadIds(ReadOnlySpan<byte> body, ref int at, out int[] ids)
    {
        ids = [];
        if (at + 4 > body.Length)
        {
            return false;
        }
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        at += 4;
        if (count < 0 || at + 4L * count > body.Length)
        {
            return false;
        }
        ids = new int[count];
        for (var i = 0; i < count; i++, at += 4)
        {
            ids[i] = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        }
        return true;
    }
}

namespace Nemcache.Tools;

/// <summary>One file's size and how much of it the live items still need.</summary>
internal sealed record FileStatistics(string Name, long Bytes, long LiveBytes, long DeadBytes);

/// <summary>What <c>nemcache-data stats</c> reports: the live items and the space they and the dead records take.</summary>
internal sealed record DirectoryStatistics(DataFormat Format, IReadOnlyList<FileStatistics> Files, long Keys,
    long KeyBytes, long ValueBytes, long? PendingFlushAt)
{
    public void WriteTo(TextWriter output)
    {
        output.WriteLine($"format {DataFormats.Name(Format)}");
        output.WriteLine($"files {Files.Count}");
        output.WriteLine($"keys {Keys}");
        output.WriteLine($"key_bytes {KeyBytes}");
        output.WriteLine($"value_bytes {ValueBytes}");
        output.WriteLine($"file_bytes {Files.Sum(f => f.Bytes)}");
        output.WriteLine($"live_bytes {Files.Sum(f => f.LiveBytes)}");
        output.WriteLine($"dead_bytes {Files.Sum(f => f.DeadBytes)}");
        output.WriteLine($"pending_flush_at {PendingFlushAt ?? 0}");
        foreach (var file in Files)
        {
            output.WriteLine($"file {file.Name} bytes {file.Bytes} live {file.LiveBytes} dead {file.DeadBytes}");
        }
    }
}

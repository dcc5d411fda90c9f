using Nemcache.Tests.Support;
using System.Buffers.Binary;
using Nemcache.Storage.Persistence;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>Makes StreamArchivers that share one logger and options, and remembers the last one made.</summary>
internal sealed class StreamArchivers
{
    public ListLogger<StreamArchiver> Logger { get; } = new();
    public StreamArchiverOptions Options { get; init; } = new();
    public StreamArchiver Last { get; private set; } = null!;

    public PersistenceFactory Factory => new("stream", (options, _) => Last = new StreamArchiver(options, Options, Logger));

    public PersistedCache NewCache(SyncMode sync = SyncMode.Interval, string? dataDirectory = null) =>
        new(Factory, sync, dataDirectory: dataDirectory);

    public static string LogPath(PersistedCache cache) => Path.Combine(cache.DataDirectory, StreamLogFormat.LogFileName);

    /// <summary>Where each record of a log file starts, found by walking the frames' length fields.</summary>
    public static List<int> FrameOffsets(byte[] log)
    {
        var offsets = new List<int>();
        var offset = StreamLogFormat.HeaderSize;
        while (offset < log.Length)
        {
            offsets.Add(offset);
            offset += StreamLogFormat.FrameHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(offset + 4));
        }
        return offsets;
    }

    /// <summary>Every record of a log file, parsed without the reader under test.</summary>
    public static List<LogRecord> Records(byte[] log)
    {
        var records = new List<LogRecord>();
        foreach (var offset in FrameOffsets(log))
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(offset + 4));
            records.Add(LogRecord.Parser.ParseFrom(log.AsSpan(offset + StreamLogFormat.FrameHeaderSize, length)));
        }
        return records;
    }
}

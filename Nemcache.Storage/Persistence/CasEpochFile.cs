using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Cache;

namespace Nemcache.Storage.Persistence;

/// <summary>
/// The data directory's record of CAS epochs (<see cref="CasSequence"/>): the file <see cref="FileName"/> holds, as
/// ASCII decimal digits and a newline, the highest epoch any run has reserved. A run takes the epoch after it and
/// reserves that one and the next before it hands out a unique, so that no later run, after any crash or power loss,
/// can take an epoch whose uniques were handed out. The number is written zero-padded to <see cref="Digits"/> digits,
/// in place and fsynced: the file never changes size, so a server can still start on a full disk, and the write
/// stays within one sector, which a disk writes whole. The directory is fsynced once, when the file is created.
/// </summary>
public sealed class CasEpochFile
{
    public const string FileName = "cas-epoch";
    /// <summary>ulong.MaxValue has 20 decimal digits.</summary>
    public const int Digits = 20;

    private readonly string _path;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private ulong _reserved;

    private CasEpochFile(string path, ulong reserved, ILogger logger)
    {
        _path = path;
        _reserved = reserved;
        _logger = logger;
    }

    /// <summary>
    /// Reserves a new epoch in <paramref name="dataDirectory"/> and returns the sequence that starts there. Throws
    /// <see cref="PersistenceException"/> when the reservation cannot be made durable.
    /// </summary>
    public static CasSequence Start(string dataDirectory, ILogger logger)
    {
        var path = Path.Combine(dataDirectory, FileName);
        try
        {
            OwnerOnlyFiles.CreateDirectory(dataDirectory);
            var epochs = new CasEpochFile(path, ReadReserved(path, logger), logger);
            var epoch = epochs._reserved + 1;
            if (epoch >= CasSequence.MaxEpoch)
            {
                // 2^24 runs; wrapping would reuse the first runs' tokens, which nobody can still hold after so long.
                epoch = 1;
            }
            epochs.Reserve(epoch + 1);
            return new CasSequence(epoch, epochs.OnEpochEntered);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceException($"cannot reserve a CAS epoch in {path}: {ex.Message}", ex);
        }
    }

    private static ulong ReadReserved(string path, ILogger logger)
    {
        if (!File.Exists(path))
        {
            return 0;
        }
        var text = File.ReadAllText(path, Encoding.ASCII).Trim();
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var reserved) &&
            reserved <= CasSequence.MaxEpoch)
        {
            return reserved;
        }
        // Restored items still push the counter above their own CAS (CasSequence.Observe); only the uniques of
        // deleted versions could come round again.
        logger.LogWarning("{Path} is unreadable ({Text}); CAS numbering starts at epoch 1", path, text);
        return 0;
    }

    private void OnEpochEntered(ulong epoch)
    {
        try
        {
            lock (_gate)
            {
                if (epoch + 1 > _reserved)
                {
                    Reserve(epoch + 1);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(ex, "Could not reserve CAS epoch {Epoch} in {Path}", epoch + 1, _path);
        }
    }

    private void Reserve(ulong epoch)
    {
        lock (_gate)
        {
            var created = !File.Exists(_path);
            using (var file = new FileStream(_path, OwnerOnlyFiles.Options(FileMode.OpenOrCreate, FileAccess.Write, FileShare.None)))
            {
                file.Write(Encoding.ASCII.GetBytes(epoch.ToString("D" + Digits, CultureInfo.InvariantCulture) + "\n"));
                file.SetLength(Digits + 1);
                file.Flush(flushToDisk: true);
            }
            if (created)
            {
                DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            }
            _reserved = epoch;
        }
    }
}

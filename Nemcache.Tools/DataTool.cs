using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tools;

/// <summary>
/// nemcache-data's verbs. Each reads the data directory without taking its LOCK and without writing to it, so it runs
/// beside a server that holds the directory, on a backup copy, or on a read-only mount.
/// </summary>
internal static class DataTool
{
    private const string Usage = """
        usage: nemcache-data COMMAND [--format stream|bitcask] [DATA_DIR]
          verify   check every CRC, hint and file; exit 0 when clean, 1 when damaged
          dump     write the live items to stdout as memcached text-protocol set commands
          stats    print keys, live and dead bytes, and files
        DATA_DIR defaults to ./nemcache-data, as the server's --data-dir does. --format picks one plugin's files when the
        directory holds both. Nothing is written to DATA_DIR and its LOCK is not taken.
        """;

    private const string DefaultDirectory = "./nemcache-data";

    public static int Run(string[] args, TextWriter output, TextWriter errors, Func<Stream> openDump)
    {
        if (args is ["-h" or "--help"])
        {
            output.WriteLine(Usage);
            return ExitCodes.Clean;
        }
        if (!TryParse(args, out var verb, out var directory, out var chosen, out var problem))
        {
            errors.WriteLine($"nemcache-data: {problem} (nemcache-data --help lists the commands)");
            return ExitCodes.Usage;
        }
        try
        {
            return Run(verb, directory, chosen, output, errors, openDump);
        }
        catch (Exception ex) when (ex is PersistenceException or IOException or UnauthorizedAccessException)
        {
            errors.WriteLine($"nemcache-data: {ex.Message}");
            return ExitCodes.Damaged;
        }
    }

    private static int Run(string verb, string directory, DataFormat? chosen, TextWriter output, TextWriter errors,
        Func<Stream> openDump)
    {
        if (!Directory.Exists(directory))
        {
            errors.WriteLine($"nemcache-data: {directory} is not a directory");
            return ExitCodes.Usage;
        }
        var present = DataFormats.Present(directory);
        if (chosen is { } only)
        {
            present.RemoveAll(format => format != only);
        }
        if (present.Count == 0)
        {
            errors.WriteLine($"nemcache-data: {directory} holds no {(chosen is { } c ? DataFormats.Name(c) + " " : "")}Nemcache data files");
            return ExitCodes.Usage;
        }
        if (verb != "verify" && present.Count > 1)
        {
            errors.WriteLine($"nemcache-data: {directory} holds both a stream log and Bitcask files; choose one with --format stream or --format bitcask");
            return ExitCodes.Usage;
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        switch (verb)
        {
            case "verify":
                var report = new VerifyReport(output);
                foreach (var format in present)
                {
                    if (format == DataFormat.Stream)
                    {
                        StreamLogVerifier.Verify(directory, report);
                    }
                    else
                    {
                        BitcaskVerifier.Verify(directory, report);
                    }
                }
                return report.Finish();
            case "dump":
            {
                using var stream = openDump();
                var dumped = WithLiveItems(present[0], directory, now, errors, items => MemcachedTextDump.Write(stream, items));
                errors.WriteLine($"nemcache-data: dumped {dumped} items");
                return ExitCodes.Clean;
            }
            default:
                ReadStatistics(present[0], directory, now, errors).WriteTo(output);
                return ExitCodes.Clean;
        }
    }

    private static long WithLiveItems(DataFormat format, string directory, long now, TextWriter errors,
        Func<IEnumerable<LiveItem>, long> use)
    {
        if (format == DataFormat.Stream)
        {
            return use(StreamLogSnapshot.Read(directory, now, errors).LiveItems());
        }
        using var snapshot = BitcaskSnapshot.Open(directory, now, new RecoveryWarnings(errors));
        return use(snapshot.LiveItems());
    }

    private static DirectoryStatistics ReadStatistics(DataFormat format, string directory, long now, TextWriter errors)
    {
        if (format == DataFormat.Stream)
        {
            return StreamLogSnapshot.Read(directory, now, errors).Statistics();
        }
        using var snapshot = BitcaskSnapshot.Open(directory, now, new RecoveryWarnings(errors));
        return snapshot.Statistics();
    }

    private static bool TryParse(string[] args, out string verb, out string directory, out DataFormat? format, out string problem)
    {
        verb = args.Length > 0 ? args[0] : "";
        directory = DefaultDirectory;
        format = null;
        problem = "";
        if (verb is not ("verify" or "dump" or "stats"))
        {
            problem = verb == "" ? "no command given" : $"unknown command {verb}";
            return false;
        }
        var directoryGiven = false;
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--format")
            {
                if (i + 1 == args.Length || !DataFormats.TryParse(args[++i], out var parsed))
                {
                    problem = "--format takes stream or bitcask";
                    return false;
                }
                format = parsed;
            }
            else if (args[i].StartsWith('-') || directoryGiven)
            {
                problem = $"unexpected argument {args[i]}";
                return false;
            }
            else
            {
                directory = args[i];
                directoryGiven = true;
            }
        }
        return true;
    }
}

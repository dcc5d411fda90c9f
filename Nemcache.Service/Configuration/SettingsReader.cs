using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Configuration;

/// <summary>
/// Reads <see cref="ServerSettings"/> from NEMCACHE_ environment variables and memcached-style flags (flags win), and
/// rejects any invalid value with a <see cref="SettingsException"/> that names the setting.
/// </summary>
public static class SettingsReader
{
    private const long Megabyte = 1024 * 1024;

    /// <summary>Largest -m: a terabyte, in megabytes.</summary>
    private const long MaxMemoryLimitMegabytes = 1024L * 1024;

    private static IConfiguration BuildConfiguration(CommandLine commandLine, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder();
        if (environment is null)
        {
            builder.AddEnvironmentVariables(SettingNames.EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(environment
                .Where(e => e.Key.StartsWith(SettingNames.EnvironmentPrefix, StringComparison.Ordinal))
                .Select(e => KeyValuePair.Create(e.Key[SettingNames.EnvironmentPrefix.Length..], e.Value)));
        }
        return builder.AddInMemoryCollection(commandLine.Values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();
    }

    public static ServerSettings Read(string[] args, IDictionary<string, string?>? environment = null) =>
        Read(CommandLine.Parse(args), environment);

    public static ServerSettings Read(CommandLine commandLine, IDictionary<string, string?>? environment = null)
    {
        var config = BuildConfiguration(commandLine, environment);
        RejectUnknown(config);
        var defaults = new ServerSettings();
        var maxItemSize = (int)ReadSize(config, SettingNames.MaxItemSize, defaults.MaxItemSize, 1, CacheLimits.MinMaxItemSize, CacheLimits.MaxMaxItemSize);
        var memoryLimit = ReadSize(config, SettingNames.MemoryLimit, defaults.MemoryLimitMegabytes * Megabyte, Megabyte,
            Megabyte, MaxMemoryLimitMegabytes * Megabyte, wholeMultipleOf: Megabyte) / Megabyte;
        if (maxItemSize > memoryLimit * Megabyte / 2)
        {
            throw new SettingsException(
                $"{SettingNames.Describe(SettingNames.MaxItemSize)}: {maxItemSize} bytes is more than half the memory limit ({memoryLimit} MB)");
        }
        var port = (int)ReadInteger(config, SettingNames.Port, defaults.Port, 1, 65535);

        return new ServerSettings
        {
            Port = port,
            ListenEndPoints = ReadListen(config, port),
            ListenBacklog = (int)ReadInteger(config, SettingNames.ListenBacklog, defaults.ListenBacklog, 1, 65535),
            MemoryLimitMegabytes = memoryLimit,
            ConnectionLimit = (int)ReadInteger(config, SettingNames.ConnectionLimit, defaults.ConnectionLimit, 1, 1_000_000),
            MaxItemSize = maxItemSize,
            Verbosity = (int)ReadInteger(config, SettingNames.Verbosity, defaults.Verbosity, 0, 10),
            PidFile = ReadPath(config, SettingNames.PidFile, defaults.PidFile, "file path"),
            User = ReadUser(config),
            DataDirectory = ReadPath(config, SettingNames.DataDirectory, defaults.DataDirectory, "directory path")!,
            UseBitcask = ReadSwitch(config, SettingNames.UseBitcask),
            Sync = ReadSyncMode(config, defaults.Sync),
            SyncInterval = TimeSpan.FromMilliseconds(ReadInteger(config, SettingNames.SyncInterval,
                (long)defaults.SyncInterval.TotalMilliseconds, 1, 3_600_000)),
            StreamCompactBytes = ReadInteger(config, SettingNames.StreamCompactBytes, defaults.StreamCompactBytes, 4096, long.MaxValue),
            BitcaskMaxFileBytes = ReadInteger(config, SettingNames.BitcaskMaxFileBytes,
                BitcaskOptions.MaxFileBytesFor(memoryLimit * Megabyte), 4096, long.MaxValue),
            BitcaskMergeFragmentation = ReadFraction(config, SettingNames.BitcaskMergeFragmentation, defaults.BitcaskMergeFragmentation),
            BitcaskMergeMinDeadBytes = ReadInteger(config, SettingNames.BitcaskMergeMinDeadBytes, defaults.BitcaskMergeMinDeadBytes, 0, long.MaxValue),
            MetricsListen = ReadMetricsListen(config),
        };
    }

    private static void RejectUnknown(IConfiguration config)
    {
        foreach (var entry in config.GetChildren())
        {
            if (!SettingNames.All.Contains(entry.Key))
            {
                throw new SettingsException($"unknown setting '{entry.Key}' (as {SettingNames.EnvironmentPrefix}{entry.Key} or --{entry.Key.ToLowerInvariant()})");
            }
        }
    }

    private static long ReadInteger(IConfiguration config, string key, long fallback, long min, long max)
    {
        var text = config[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        if (!long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new SettingsException($"{SettingNames.Describe(key)}: '{text}' is not a whole number from {min} to {max}");
        }
        return value;
    }

    private static double ReadFraction(IConfiguration config, string key, double fallback)
    {
        var text = config[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        if (!double.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value is < 0 or > 1)
        {
            throw new SettingsException($"{SettingNames.Describe(key)}: '{text}' is not a fraction from 0 to 1");
        }
        return value;
    }

    /// <summary>
    /// A byte size as memcached's -I takes it: a number with an optional k, m or g suffix (either case); a bare number
    /// counts in <paramref name="unit"/>s (bytes for -I, megabytes for -m).
    /// </summary>
    private static long ReadSize(IConfiguration config, string key, long fallback, long unit, long min, long max, long wholeMultipleOf = 1)
    {
        var text = config[key]?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        var multiplier = char.ToLowerInvariant(text[^1]) switch
        {
            'k' => 1024L, 'm' => Megabyte, 'g' => 1024 * Megabyte, var digit when char.IsAsciiDigit(digit) => unit, _ => 0,
        };
        var digits = char.IsAsciiDigit(text[^1]) ? text : text[..^1];
        if (multiplier == 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number > max / multiplier || number * multiplier < min || (number * multiplier) % wholeMultipleOf != 0)
        {
            var range = unit == 1 ? $"from {min} to {max} bytes" : $"from {min / unit} to {max / unit} megabytes";
            throw new SettingsException($"{SettingNames.Describe(key)}: '{text}' is not a size {range} (a number, optionally with k, m or g)");
        }
        return number * multiplier;
    }

    /// <summary>
    /// -l as memcached reads it: entries separated by commas or semicolons, each an address (IPv6 bare or in brackets),
    /// optionally with :PORT; * is every address, localhost the IPv4 loopback.
    /// </summary>
    private static IReadOnlyList<IPEndPoint> ReadListen(IConfiguration config, int port)
    {
        var text = config[SettingNames.Listen];
        if (string.IsNullOrWhiteSpace(text))
        {
            return [new IPEndPoint(IPAddress.Loopback, port)];
        }
        var endPoints = new List<IPEndPoint>();
        foreach (var entry in text.Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var endPoint in ReadListenEntry(entry, port) ?? throw new SettingsException(
                $"{SettingNames.Describe(SettingNames.Listen)}: '{entry}' is not an IP address, [IPv6 address], * or localhost, with an optional :port"))
            {
                if (!endPoints.Contains(endPoint))
                {
                    endPoints.Add(endPoint);
                }
            }
        }
        return endPoints.Count > 0 ? endPoints
            : throw new SettingsException($"{SettingNames.Describe(SettingNames.Listen)}: '{text}' names no address");
    }

    /// <summary>A port alone (on the loopback address, so that metrics are not exposed by accident) or address:port.</summary>
    private static IPEndPoint? ReadMetricsListen(IConfiguration config)
    {
        var text = config[SettingNames.MetricsListen]?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535)
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }
        if (text.StartsWith("localhost:", StringComparison.Ordinal))
        {
            text = "127.0.0.1" + text["localhost".Length..];
        }
        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port is >= 1 and <= 65535 && text.Contains(':'))
        {
            return endPoint;
        }
        throw new SettingsException(
            $"{SettingNames.Describe(SettingNames.MetricsListen)}: '{text}' is not a port (1 to 65535) or address:port");
    }

    private static IPEndPoint[]? ReadListenEntry(string entry, int port)
    {
        var host = entry;
        var close = entry.IndexOf(']');
        var colon = entry.LastIndexOf(':');
        // A port follows the last colon of "[v6]:port" or "v4:port"; a bare IPv6 address has several colons and no port.
        if (colon >= 0 && (entry.StartsWith('[') ? colon == close + 1 : entry.IndexOf(':') == colon))
        {
            if (!int.TryParse(entry[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                return null;
            }
            host = entry[..colon];
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            return IPAddress.TryParse(host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? [new(v6, port)] : null;
        }
        return host switch
        {
            "*" => [new(IPAddress.Any, port), new(IPAddress.IPv6Any, port)],
            "localhost" => [new(IPAddress.Loopback, port)],
            _ => IPAddress.TryParse(host, out var address) ? [new(address, port)] : null,
        };
    }

    private static string? ReadPath(IConfiguration config, string key, string? fallback, string what)
    {
        var text = config[key];
        if (text is null)
        {
            return fallback;
        }
        if (string.IsNullOrWhiteSpace(text) || text.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            throw new SettingsException($"{SettingNames.Describe(key)}: '{text}' is not a {what}");
        }
        return text;
    }

    private static string? ReadUser(IConfiguration config)
    {
        var text = config[SettingNames.User]?.Trim();
        return string.IsNullOrEmpty(text) ? null : text;
    }

    private static bool ReadSwitch(IConfiguration config, string key) => config[key]?.Trim() switch
    {
        null or "" or "0" => false,
        "1" => true,
        var other => throw new SettingsException($"{SettingNames.Describe(key)}: '{other}' is not 0 or 1"),
    };

    private static SyncMode ReadSyncMode(IConfiguration config, SyncMode fallback) => config[SettingNames.Sync]?.Trim() switch
    {
        null or "" => fallback,
        "always" => SyncMode.Always,
        "interval" => SyncMode.Interval,
        "none" => SyncMode.None,
        var other => throw new SettingsException($"{SettingNames.Describe(SettingNames.Sync)}: '{other}' is not always, interval or none"),
    };
}

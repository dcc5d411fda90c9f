using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Configuration;

/// <summary>
/// Reads <see cref="ServerSettings"/> from NEMCACHE_ environment variables and memcached-style flags (flags win), and
/// rejects any invalid value with a <see cref="SettingsException"/> that names the setting.
/// </summary>
public static class SettingsReader
{
    public static IConfiguration BuildConfiguration(string[] args, IDictionary<string, string?>? environment = null)
    {
        RejectUnknownFlags(args);
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
        try
        {
            return builder.AddCommandLine(args, SettingNames.Flags.ToDictionary()).Build();
        }
        catch (FormatException ex)
        {
            throw new SettingsException($"bad command line: {ex.Message}");
        }
    }

    public static ServerSettings Read(string[] args, IDictionary<string, string?>? environment = null)
    {
        var config = BuildConfiguration(args, environment);
        RejectUnknown(config);
        var defaults = new ServerSettings();
        var maxItemSize = ReadSize(config, SettingNames.MaxItemSize, defaults.MaxItemSize, CacheLimits.MinMaxItemSize, CacheLimits.MaxMaxItemSize);
        var memoryLimit = ReadInteger(config, SettingNames.MemoryLimit, defaults.MemoryLimitMegabytes, 1, 1024L * 1024);
        if (maxItemSize > memoryLimit * 1024 * 1024 / 2)
        {
            throw new SettingsException(
                $"{SettingNames.Describe(SettingNames.MaxItemSize)}: {maxItemSize} bytes is more than half the memory limit ({memoryLimit} MB)");
        }

        return new ServerSettings
        {
            Port = (int)ReadInteger(config, SettingNames.Port, defaults.Port, 1, 65535),
            Listen = ReadAddress(config, defaults.Listen),
            MemoryLimitMegabytes = memoryLimit,
            ConnectionLimit = (int)ReadInteger(config, SettingNames.ConnectionLimit, defaults.ConnectionLimit, 1, 1_000_000),
            MaxItemSize = maxItemSize,
            DataDirectory = ReadDirectory(config, defaults.DataDirectory),
            UseBitcask = ReadSwitch(config, SettingNames.UseBitcask),
            Sync = ReadSyncMode(config, defaults.Sync),
            SyncInterval = TimeSpan.FromMilliseconds(ReadInteger(config, SettingNames.SyncInterval,
                (long)defaults.SyncInterval.TotalMilliseconds, 1, 3_600_000)),
            StreamCompactBytes = ReadInteger(config, SettingNames.StreamCompactBytes, defaults.StreamCompactBytes, 4096, long.MaxValue),
            BitcaskMaxFileBytes = ReadInteger(config, SettingNames.BitcaskMaxFileBytes, defaults.BitcaskMaxFileBytes, 4096, long.MaxValue),
            BitcaskMergeFragmentation = ReadFraction(config, SettingNames.BitcaskMergeFragmentation, defaults.BitcaskMergeFragmentation),
            BitcaskMergeMinDeadBytes = ReadInteger(config, SettingNames.BitcaskMergeMinDeadBytes, defaults.BitcaskMergeMinDeadBytes, 0, long.MaxValue),
            MetricsListen = ReadMetricsListen(config),
        };
    }

    /// <summary>
    /// The CommandLine provider passes over a flag it has no mapping for; a memcached flag we do not support (-U, -v…)
    /// must stop startup instead of being ignored.
    /// </summary>
    private static void RejectUnknownFlags(string[] args)
    {
        for (var i = 0; i < args.Length; i += 2)
        {
            var flag = args[i].Split('=', 2)[0];
            if (!SettingNames.Flags.ContainsKey(flag))
            {
                throw new SettingsException($"unknown flag '{args[i]}'; the flags are {string.Join(", ", SettingNames.Flags.Keys)}");
            }
            if (args[i].Contains('='))
            {
                i--;
            }
            else if (i + 1 >= args.Length)
            {
                throw new SettingsException($"{SettingNames.Describe(SettingNames.Flags[flag])}: no value after {flag}");
            }
        }
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

    /// <summary>A byte size as memcached's -I takes it: a number with an optional k or m suffix.</summary>
    private static int ReadSize(IConfiguration config, string key, int fallback, int min, int max)
    {
        var text = config[key]?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        var multiplier = char.ToLowerInvariant(text[^1]) switch { 'k' => 1024L, 'm' => 1024L * 1024, _ => 1L };
        var digits = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number > max || number * multiplier < min || number * multiplier > max)
        {
            throw new SettingsException($"{SettingNames.Describe(key)}: '{text}' is not a size from {min} to {max} bytes (a number, optionally with k or m)");
        }
        return (int)(number * multiplier);
    }

    private static IPAddress ReadAddress(IConfiguration config, IPAddress fallback)
    {
        var text = config[SettingNames.Listen];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        if (text.Trim() == "localhost")
        {
            return IPAddress.Loopback;
        }
        if (!IPAddress.TryParse(text.Trim(), out var address))
        {
            throw new SettingsException($"{SettingNames.Describe(SettingNames.Listen)}: '{text}' is not an IP address");
        }
        return address;
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

    private static string ReadDirectory(IConfiguration config, string fallback)
    {
        var text = config[SettingNames.DataDirectory];
        if (text is null)
        {
            return fallback;
        }
        if (string.IsNullOrWhiteSpace(text) || text.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            throw new SettingsException($"{SettingNames.Describe(SettingNames.DataDirectory)}: '{text}' is not a directory path");
        }
        return text;
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

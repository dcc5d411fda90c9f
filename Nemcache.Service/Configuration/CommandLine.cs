namespace Nemcache.Service.Configuration;

/// <summary>What the command line asks for besides running the server.</summary>
public enum CommandLineRequest
{
    Run,
    Help,
    Version,
}

/// <summary>
/// The command line, parsed as memcached's getopt_long parses it: -p 11211, -p11211, --port=11211, --port 11211, and
/// switches bundled (-vv). The flags come from <see cref="SettingNames.Flags"/>.
/// </summary>
/// <param name="Values">The settings the flags set, by key.</param>
/// <param name="Notices">One line per flag that is accepted but ignored, saying why; logged at startup.</param>
public sealed record CommandLine(IReadOnlyDictionary<string, string> Values, IReadOnlyList<string> Notices, CommandLineRequest Request)
{
    /// <summary>memcached joins repeated -l values into one list.</summary>
    private const string ListenSeparator = ",";

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>();
        var notices = new List<string>();
        var request = CommandLineRequest.Run;

        void Apply(Flag flag, string? value)
        {
            if (flag.HonouredValue is { } honoured && value == honoured)
            {
                return;
            }
            var shown = value is null ? flag.Name : $"{flag.Name} {value}";
            switch (flag.Use)
            {
                case FlagUse.Setting:
                    values[flag.Key!] = flag.Key == SettingNames.Listen && values.TryGetValue(flag.Key, out var earlier)
                        ? earlier + ListenSeparator + value
                        : value!;
                    break;
                case FlagUse.Count:
                    values[flag.Key!] = (values.TryGetValue(flag.Key!, out var count) ? int.Parse(count) + 1 : 1).ToString();
                    break;
                case FlagUse.Help:
                    request = CommandLineRequest.Help;
                    break;
                case FlagUse.Version:
                    request = request == CommandLineRequest.Help ? request : CommandLineRequest.Version;
                    break;
                case FlagUse.Ignored:
                    notices.Add($"{shown}: ignored: {flag.Reason}");
                    break;
                case FlagUse.Refused:
                    throw new SettingsException($"{shown}: not supported: {flag.Reason}");
            }
        }

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                var equals = arg.IndexOf('=');
                var name = equals < 0 ? arg[2..] : arg[2..equals];
                var flag = SettingNames.Flags.FirstOrDefault(f => f.Long == name) ?? throw Unknown(arg);
                string? value = null;
                if (flag.TakesValue)
                {
                    value = equals >= 0 ? arg[(equals + 1)..] : NextValue(args, ref i, flag);
                }
                else if (equals >= 0 && flag.Use != FlagUse.Count)
                {
                    // getopt_long's --verbose takes an optional argument that memcached disregards; no other switch does.
                    throw new SettingsException($"{flag.Name} takes no value ('{arg}')");
                }
                Apply(flag, value);
            }
            else if (arg.StartsWith('-') && arg.Length > 1 && arg[1] != '-')
            {
                for (var at = 1; at < arg.Length; at++)
                {
                    var flag = SettingNames.Flags.FirstOrDefault(f => f.Short == arg[at]) ?? throw Unknown($"-{arg[at]}");
                    if (!flag.TakesValue)
                    {
                        Apply(flag, null);
                        continue;
                    }
                    Apply(flag, at + 1 < arg.Length ? arg[(at + 1)..] : NextValue(args, ref i, flag));
                    break;
                }
            }
            else
            {
                throw new SettingsException($"unexpected argument '{arg}': flags start with - (see -h)");
            }
        }
        return new CommandLine(values, notices, request);
    }

    private static string NextValue(IReadOnlyList<string> args, ref int i, Flag flag)
    {
        if (i + 1 >= args.Count)
        {
            throw new SettingsException(flag.Key is { } key
                ? $"{SettingNames.Describe(key)}: no value after {flag.Name}"
                : $"{flag.Name}: no value after it");
        }
        return args[++i];
    }

    private static SettingsException Unknown(string flag) =>
        new($"unknown flag '{flag}': -h lists the flags");
}

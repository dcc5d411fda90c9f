using System.Net;
using Nemcache.Service.Configuration;
using Nemcache.Storage.Persistence;

namespace Nemcache.Tests.Configuration;

[TestFixture]
public sealed class SettingsReaderTests
{
    private static ServerSettings Read(Dictionary<string, string?>? environment = null, params string[] args) =>
        SettingsReader.Read(args, environment ?? []);

    [Test]
    public void Defaults_are_memcacheds()
    {
        var settings = Read();
        Assert.That(settings.Port, Is.EqualTo(11211));
        Assert.That(settings.ListenEndPoints, Is.EqualTo(new[] { new IPEndPoint(IPAddress.Loopback, 11211) }));
        Assert.That(settings.Listen, Is.EqualTo("127.0.0.1"));
        Assert.That((settings.ListenBacklog, settings.Verbosity, settings.PidFile, settings.User), Is.EqualTo((1024, 0, (string?)null, (string?)null)));
        Assert.That(settings.MemoryLimitMegabytes, Is.EqualTo(64));
        Assert.That(settings.ConnectionLimit, Is.EqualTo(1024));
        Assert.That(settings.MaxItemSize, Is.EqualTo(1024 * 1024));
        Assert.That(settings.DataDirectory, Is.EqualTo("./nemcache-data"));
        Assert.That(settings.UseBitcask, Is.False);
        Assert.That(settings.Sync, Is.EqualTo(SyncMode.Interval));
        Assert.That(settings.SyncInterval, Is.EqualTo(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public void Bitcask_files_rotate_at_a_quarter_of_the_memory_limit_unless_set()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Read().BitcaskMaxFileBytes, Is.EqualTo(16L << 20), "-m 64");
            Assert.That(Read(null, "-m", "2").BitcaskMaxFileBytes, Is.EqualTo(1L << 20), "-m 2: at least 1 MiB");
            Assert.That(Read(null, "-m", "1024").BitcaskMaxFileBytes, Is.EqualTo(256L << 20), "-m 1024");
            Assert.That(Read(null, "-m", "8192").BitcaskMaxFileBytes, Is.EqualTo(256L << 20), "-m 8192: at most 256 MiB");
            Assert.That(Read(new() { ["NEMCACHE_BITCASK_MAX_FILE_BYTES"] = "100000" }, "-m", "1024").BitcaskMaxFileBytes,
                Is.EqualTo(100000), "set");
        });
    }

    [Test]
    public void Flags_and_environment_set_every_setting_and_flags_win()
    {
        var environment = new Dictionary<string, string?>
        {
            ["NEMCACHE_PORT"] = "1000", ["NEMCACHE_LISTEN"] = "0.0.0.0", ["NEMCACHE_MEMORY_LIMIT_MB"] = "128",
            ["NEMCACHE_CONN_LIMIT"] = "10", ["NEMCACHE_MAX_ITEM_SIZE"] = "512k", ["NEMCACHE_DATA_DIR"] = "/tmp/x",
            ["NEMCACHE_USE_BITCASK"] = "1", ["NEMCACHE_SYNC"] = "always", ["NEMCACHE_SYNC_INTERVAL_MS"] = "250",
            ["OTHER_PORT"] = "1",
        };
        var fromEnvironment = Read(environment);
        Assert.That(fromEnvironment with { ListenEndPoints = [] }, Is.EqualTo(new ServerSettings
        {
            Port = 1000, ListenEndPoints = [], MemoryLimitMegabytes = 128, ConnectionLimit = 10, MaxItemSize = 512 * 1024,
            DataDirectory = "/tmp/x", UseBitcask = true, Sync = SyncMode.Always, SyncInterval = TimeSpan.FromMilliseconds(250),
            BitcaskMaxFileBytes = 32L << 20,
        }));
        Assert.That(fromEnvironment.ListenEndPoints, Is.EqualTo(new[] { new IPEndPoint(IPAddress.Any, 1000) }));

        var fromFlags = Read(environment, "-p", "2000", "-l", "127.0.0.2", "-m", "256", "-c", "20", "-I", "2m", "--data-dir", "/tmp/y");
        Assert.That((fromFlags.Port, fromFlags.Listen, fromFlags.MemoryLimitMegabytes, fromFlags.ConnectionLimit,
                fromFlags.MaxItemSize, fromFlags.DataDirectory),
            Is.EqualTo((2000, "127.0.0.2", 256L, 20, 2 * 1024 * 1024, "/tmp/y")));
        var longFlags = Read(null, "--port", "3000", "--memory-limit", "8", "--conn-limit", "5", "--max-item-size", "4096", "--listen", "::1");
        Assert.That((longFlags.Port, longFlags.MemoryLimitMegabytes, longFlags.ConnectionLimit, longFlags.MaxItemSize, longFlags.ListenEndPoints.Single()),
            Is.EqualTo((3000, 8L, 5, 4096, new IPEndPoint(IPAddress.IPv6Loopback, 3000))));
    }

    [TestCase("-I", "1m", "-m", "1", "half the memory limit")]
    [TestCase("-I", "abc", "-m", "64", "-I/--max-item-size")]
    [TestCase("-p", "-1", "-m", "64", "-p/--port")]
    public void Invalid_values_name_the_setting(string flag, string value, string otherFlag, string otherValue, string message)
    {
        var error = Assert.Throws<SettingsException>(() => Read(null, flag, value, otherFlag, otherValue));
        Assert.That(error!.Message, Does.Contain(message));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [TestCase(null, null)]
    [TestCase("9150", "127.0.0.1:9150")]
    [TestCase("0.0.0.0:9150", "0.0.0.0:9150")]
    [TestCase("localhost:9150", "127.0.0.1:9150")]
    [TestCase("[::1]:9150", "[::1]:9150")]
    public void Metrics_endpoint_is_off_by_default_and_on_loopback_for_a_port_alone(string? value, string? endPoint)
    {
        var settings = Read(new Dictionary<string, string?> { ["NEMCACHE_METRICS_LISTEN"] = value });
        Assert.That(settings.MetricsListen?.ToString(), Is.EqualTo(endPoint));
        Assert.That(Read(null, "--metrics-listen", "9151").MetricsListen?.ToString(), Is.EqualTo("127.0.0.1:9151"));
    }

    [TestCase("0")]
    [TestCase("65536")]
    [TestCase("127.0.0.1")]
    [TestCase("nowhere:80")]
    public void A_bad_metrics_endpoint_names_the_setting(string value)
    {
        var error = Assert.Throws<SettingsException>(() => Read(null, "--metrics-listen", value));
        Assert.That(error!.Message, Does.Contain("--metrics-listen (NEMCACHE_METRICS_LISTEN)"));
    }

    /// <summary>What Debian's systemd-memcached-wrapper passes from the packaged /etc/memcached.conf.</summary>
    [Test]
    public void Debian_memcached_conf_flags_are_accepted()
    {
        var commandLine = CommandLine.Parse(["-m", "64", "-p", "11211", "-u", "memcache", "-l", "127.0.0.1", "-P", "/var/run/memcached/memcached.pid"]);
        var settings = SettingsReader.Read(commandLine, new Dictionary<string, string?>());
        Assert.That((settings.MemoryLimitMegabytes, settings.Port, settings.User, settings.Listen, settings.PidFile),
            Is.EqualTo((64L, 11211, "memcache", "127.0.0.1", "/var/run/memcached/memcached.pid")));
        Assert.That(commandLine.Notices, Is.Empty);
    }

    [TestCase("64", 64L)]
    [TestCase("64m", 64L)]
    [TestCase("64M", 64L)]
    [TestCase("2g", 2048L)]
    [TestCase("1G", 1024L)]
    [TestCase("2048k", 2L)]
    public void Memory_limit_takes_megabytes_or_a_size_suffix(string value, long megabytes) =>
        Assert.That(Read(null, "-m", value, "-I", "1k").MemoryLimitMegabytes, Is.EqualTo(megabytes));

    [TestCase("1000k")]
    [TestCase("0")]
    [TestCase("64x")]
    [TestCase("2000g")]
    public void Memory_limit_that_is_not_whole_megabytes_in_range_is_refused(string value) =>
        Assert.That(Assert.Throws<SettingsException>(() => Read(null, "-m", value))!.Message, Does.StartWith("-m/--memory-limit").And.Contain(value));

    [Test]
    public void Listen_takes_several_addresses_in_one_flag_or_repeated_as_memcached_does()
    {
        var settings = Read(null, "-p", "26000", "-l", "127.0.0.1,::1", "-l", "[::1]:26001;127.0.0.2:26002", "--listen=127.0.0.1");
        Assert.That(settings.ListenEndPoints, Is.EqualTo(new[]
        {
            new IPEndPoint(IPAddress.Loopback, 26000), new IPEndPoint(IPAddress.IPv6Loopback, 26000),
            new IPEndPoint(IPAddress.IPv6Loopback, 26001), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 26002),
        }));
        Assert.That(settings.Listen, Is.EqualTo("127.0.0.1,::1,[::1]:26001,127.0.0.2:26002"));
        Assert.That(Read(null, "-l", "*").ListenEndPoints, Is.EqualTo(new[] { new IPEndPoint(IPAddress.Any, 11211), new IPEndPoint(IPAddress.IPv6Any, 11211) }));
        Assert.That(Read(null, "-l", "localhost:1").ListenEndPoints.Single(), Is.EqualTo(new IPEndPoint(IPAddress.Loopback, 1)));
    }

    [TestCase("127.0.0.1:0")]
    [TestCase("[127.0.0.1]")]
    [TestCase("::1:x")]
    [TestCase("example.org")]
    [TestCase(",")]
    public void Listen_entries_that_are_not_addresses_are_refused(string value) =>
        Assert.That(Assert.Throws<SettingsException>(() => Read(null, "-l", value))!.Message, Does.StartWith("-l/--listen"));

    [TestCase(new[] { "-v" }, 1)]
    [TestCase(new[] { "-vv" }, 2)]
    [TestCase(new[] { "-vvv" }, 3)]
    [TestCase(new[] { "-v", "--verbose", "-v" }, 3)]
    [TestCase(new string[0], 0)]
    public void Verbose_counts_its_vs(string[] args, int verbosity) =>
        Assert.That(Read(null, args).Verbosity, Is.EqualTo(verbosity));

    [Test]
    public void Flag_values_are_taken_in_getopts_forms()
    {
        var settings = Read(null, "-p26000", "--conn-limit=7", "--listen-backlog", "16", "-vm8", "-c", "9");
        Assert.That((settings.Port, settings.ConnectionLimit, settings.ListenBacklog, settings.Verbosity, settings.MemoryLimitMegabytes),
            Is.EqualTo((26000, 9, 16, 1, 8L)));
    }

    [Test]
    public void Flags_that_do_not_apply_are_ignored_with_one_line_each_saying_why()
    {
        var commandLine = CommandLine.Parse(["-t", "4", "-o", "modern,hashpower=20", "-U", "0", "-B", "auto", "-B", "binary", "-M", "-k", "-C"]);
        Assert.That(commandLine.Notices, Has.Count.EqualTo(6), string.Join("\n", commandLine.Notices));
        Assert.That(commandLine.Notices[0], Does.StartWith("-t/--threads 4: ignored: "));
        Assert.That(commandLine.Notices[1], Does.StartWith("-o/--extended modern,hashpower=20: ignored: "));
        Assert.That(commandLine.Notices[2], Does.StartWith("-B/--protocol binary: ignored: "));
        Assert.That(commandLine.Notices, Has.All.Not.Contain("\n"));
        Assert.That(commandLine.Values, Is.Empty);
    }

    [TestCase("-d")]
    [TestCase("-U", "11211")]
    [TestCase("-s", "/tmp/memcached.sock")]
    [TestCase("-S")]
    [TestCase("-Z")]
    [TestCase("--auth-file=/etc/users")]
    public void Flags_whose_absence_would_surprise_are_refused_in_one_line(params string[] args)
    {
        var error = Assert.Throws<SettingsException>(() => CommandLine.Parse(args));
        Assert.That(error!.Message, Does.Contain(": not supported: ").And.Not.Contain("\n"));
    }

    [TestCase(new[] { "-h" }, CommandLineRequest.Help)]
    [TestCase(new[] { "--help" }, CommandLineRequest.Help)]
    [TestCase(new[] { "-V" }, CommandLineRequest.Version)]
    [TestCase(new[] { "-p", "1", "--version" }, CommandLineRequest.Version)]
    [TestCase(new[] { "-V", "-h" }, CommandLineRequest.Help)]
    public void Help_and_version_are_requests(string[] args, CommandLineRequest request) =>
        Assert.That(CommandLine.Parse(args).Request, Is.EqualTo(request));

    [TestCase("-Q")]
    [TestCase("--nonsense")]
    [TestCase("stray")]
    [TestCase("--daemon=1")]
    [TestCase("-p")]
    public void Unknown_flags_stray_words_and_missing_values_are_refused(string arg) =>
        Assert.Throws<SettingsException>(() => CommandLine.Parse([arg]));

    [Test]
    public void Usage_lists_every_flag_of_the_table()
    {
        var usage = SettingNames.Usage();
        Assert.That(SettingNames.Flags.Select(f => f.Long ?? $"-{f.Short}"), Has.All.Matches<string>(name => usage.Contains(name)));
        Assert.That(usage, Does.Contain("NEMCACHE_SYNC"));
    }
}

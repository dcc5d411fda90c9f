using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nemcache.Service;
using Nemcache.Service.Configuration;
using Nemcache.Service.Hosting;
using Nemcache.Service.Monitoring;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence;

// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT) and after -h or -V, 2 for an invalid setting, 1 when the
// server cannot start.

// Run socket completions on the epoll threads (one per core) instead of handing each one to the thread pool: a
// memcached request is short and never blocks there (fsyncs run on the pool through GroupSync), and the saved hop is
// worth about a fifth of the throughput (docs/benchmarks.md). Read once, when the first socket is created.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}
CommandLine commandLine;
ServerSettings settings;
try
{
    commandLine = CommandLine.Parse(args);
    if (commandLine.Request == CommandLineRequest.Help)
    {
        Console.Write(SettingNames.Usage());
        return 0;
    }
    if (commandLine.Request == CommandLineRequest.Version)
    {
        Console.WriteLine(BuildInfo.Describe());
        return 0;
    }
    settings = SettingsReader.Read(commandLine);
}
catch (SettingsException ex)
{
    Console.Error.WriteLine($"nemcache: {ex.Message}");
    return 2;
}

var notices = commandLine.Notices.ToList();
try
{
    if (settings.User is { } user && !UserIdentity.TrySwitchTo(user))
    {
        notices.Add($"-u/--user {user}: ignored: Nemcache was not started as root");
    }
}
catch (StartupException ex)
{
    Console.Error.WriteLine($"nemcache: {ex.Message}");
    return 1;
}

var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "Nemcache" });
builder.Logging.AddSimpleConsole(options =>
{
    options.SingleLine = true;
    options.UseUtcTimestamp = true;
    options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
});
builder.Logging.SetMinimumLevel(settings.Verbosity switch
{
    0 => LogLevel.Information,
    1 => LogLevel.Debug,
    _ => LogLevel.Trace,
});
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
// The host logs a service that fails to start with its whole stack trace before rethrowing; the catch below reports it
// in the promised single line. Its Critical entries (a background service stopping the host) still get through.
builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(15));
// Under systemd (Type=notify): READY=1 once every service below has started, so once the port is open; STOPPING=1 at
// SIGTERM; log lines with journald's priority prefixes. Elsewhere it changes nothing.
builder.Services.AddSystemd();

builder.Services.AddSingleton(settings);
builder.Services.AddSingleton(provider => new MemCache(settings.ToCacheOptions(), TimeProvider.System,
    provider.GetRequiredService<ILogger<MemCache>>()));
builder.Services.AddSingleton(provider => PersistenceSelection.Create(settings, provider.GetRequiredService<ILoggerFactory>()));
builder.Services.AddSingleton(provider => PersistenceSelection.CreateSwitch(settings,
    provider.GetRequiredService<ICachePersistence>(), provider.GetRequiredService<ILoggerFactory>()));
builder.Services.AddSingleton<ServerStatistics>();
builder.Services.AddSingleton(provider => new ServerContext(
    provider.GetRequiredService<MemCache>(),
    provider.GetRequiredService<ICachePersistence>(),
    settings,
    provider.GetRequiredService<ServerStatistics>()));
builder.Services.AddSingleton<IProtocolProcessorFactory, ProtocolNegotiation>();
builder.Services.AddSingleton<ServerMetrics>();
// First, so that a SIGHUP during a long restore does not end the process either.
builder.Services.AddHostedService<HangupSignal>();
builder.Services.AddHostedService<PersistenceService>();
builder.Services.AddHostedService<PrometheusEndpoint>();
builder.Services.AddHostedService<TcpServer>();
builder.Services.AddHostedService<PidFile>();
builder.Services.AddHostedService<ExpiryReclaimer>();
builder.Services.AddHostedService<CompactionSignal>();

using var host = builder.Build();
// The instruments exist from the start for any metrics listener (dotnet-counters too), not only the Prometheus endpoint.
host.Services.GetRequiredService<ServerMetrics>();
var startupLog = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Nemcache");
foreach (var notice in notices)
{
    startupLog.LogWarning("{Notice}", notice);
}
try
{
    await host.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is StartupException or PersistenceException)
{
    Console.Error.WriteLine($"nemcache: {ex.Message}");
    return 1;
}

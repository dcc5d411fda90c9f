using Microsoft.Extensions.Logging;

namespace Nemcache.Tools;

/// <summary>
/// Writes the warnings of the plugins' own recovery to stderr, marked as what the server would do at its next start:
/// read-only, the tool itself repairs and removes nothing.
/// </summary>
internal sealed class RecoveryWarnings(TextWriter output) : ILogger
{
    public const string Prefix = "recovery: ";

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            output.WriteLine(Prefix + formatter(state, exception));
        }
    }
}

using Microsoft.Extensions.Logging;

namespace Nemcache.Tests.Support;

/// <summary>Keeps every log line, so that tests can check what an operator would read.</summary>
public sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get { lock (_entries) return [.. _entries]; }
    }

    public IEnumerable<string> At(LogLevel level)
    {
        foreach (var entry in Entries)
        {
            if (entry.Level == level)
            {
                yield return entry.Message;
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}

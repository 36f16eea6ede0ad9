using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Keeps every log entry (event id, level, message) in memory for assertions.</summary>
public sealed class ListLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(EventId Id, LogLevel Level, string Message)> Entries { get; } = new();

    /// <summary>Entries of the event named <paramref name="eventName"/> (a <c>[LoggerMessage]</c> method's name), whatever its id.</summary>
    public int Count(string eventName) => Entries.Count(e => e.Id.Name == eventName);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class Logger(ListLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((eventId, logLevel, formatter(state, exception)));
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Aviary.Cli;

/// <summary>Writes log lines to a file (the live view owns the terminal). One writer, flushed per line.</summary>
internal sealed class FileLoggerProvider(string path, TimeProvider time, LogLevel minimum = LogLevel.Information) : ILoggerProvider
{
    private readonly StreamWriter _writer = Open(path);
    private readonly ConcurrentDictionary<string, Logger> _loggers = new();

    private static StreamWriter Open(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, c => new Logger(this, c));

    public void Dispose() => _writer.Dispose();

    private void Write(string category, LogLevel level, string message, Exception? exception)
    {
        var line = $"{time.GetUtcNow():yyyy-MM-ddTHH:mm:ss.fffZ} {level,-11} {category}: {message}";
        if (exception is not null) line += $" ({exception.GetType().Name}: {exception.Message})";
        lock (_writer) _writer.WriteLine(line);
    }

    private sealed class Logger(FileLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner.Write(category, logLevel, formatter(state, exception), exception);
        }
    }

    private readonly LogLevel _minimum = minimum;
}

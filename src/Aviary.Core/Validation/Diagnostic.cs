namespace Aviary.Core.Validation;

public enum DiagnosticSeverity
{
    Error,
    Warning,
}

/// <summary>A position in a source text, 1-based.</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";
}

/// <summary>One validation finding: the field path, the rule it breaks, and where.</summary>
public sealed record Diagnostic(DiagnosticSeverity Severity, string Path, string Message, SourcePosition? Position = null)
{
    public bool IsError => Severity == DiagnosticSeverity.Error;

    public static Diagnostic Error(string path, string message, SourcePosition? position = null) =>
        new(DiagnosticSeverity.Error, path, message, position);

    public static Diagnostic Warning(string path, string message, SourcePosition? position = null) =>
        new(DiagnosticSeverity.Warning, path, message, position);

    /// <summary><c>path: message</c>, or just the message when there is no path.</summary>
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}

/// <summary>Collects diagnostics under a moving field path.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    public IReadOnlyList<Diagnostic> Items => _items;
    public bool HasErrors => _items.Any(d => d.IsError);

    public void Error(string path, string message, SourcePosition? position = null) =>
        _items.Add(Diagnostic.Error(path, message, position));

    public void Warning(string path, string message, SourcePosition? position = null) =>
        _items.Add(Diagnostic.Warning(path, message, position));

    public void Add(Diagnostic diagnostic) => _items.Add(diagnostic);

    public void AddRange(IEnumerable<Diagnostic> diagnostics) => _items.AddRange(diagnostics);
}

using Aviary.Core.Manifests;

namespace Aviary.Cli.Commands;

/// <summary>
/// How every verb prints a document's diagnostics: errors, then warnings, one per line as
/// <c>SOURCE: Kind/name: [warning: ]field.path: message</c>.
/// </summary>
internal static class DiagnosticLines
{
    /// <summary>Writes <paramref name="doc"/>'s diagnostics; returns whether any was an error.</summary>
    public static async Task<bool> WriteAsync(TextWriter output, string source, ManifestDocument doc)
    {
        foreach (var d in doc.Diagnostics.Where(d => d.IsError))
            await output.WriteLineAsync($"{source}: {doc.Label}: {d}");
        foreach (var d in doc.Diagnostics.Where(d => !d.IsError))
            await output.WriteLineAsync($"{source}: {doc.Label}: warning: {d}");
        return doc.Diagnostics.Any(d => d.IsError);
    }
}

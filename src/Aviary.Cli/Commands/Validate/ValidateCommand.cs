using System.CommandLine;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Validation;

namespace Aviary.Cli.Commands.Validate;

/// <summary><c>aviary validate -f FILE...</c>: checks manifests without running anything.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliIO io)
    {
        var files = new Option<string[]>("--file", "-f")
        {
            Description = "A manifest file (YAML or JSON, several documents allowed), or '-' for standard input. Repeatable.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string>("--output", "-o") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var command = new Command("validate", """
            Check Canary, MetricTemplate and AlertProvider manifests against Flagger's schema and Aviary's rules.
            Exit 0 when every document is valid, 1 otherwise, with one line per error on stderr:
              FILE: Kind/name: field.path: message

            Example:
              aviary validate -f examples/podinfo-linkerd.yaml -f examples/podinfo-istio.yaml
            """) { files, output };
        command.SetAction(async (parse, ct) =>
        {
            var results = new List<ManifestFile>();
            foreach (var file in parse.GetValue(files) ?? [])
                results.Add(await ReadAsync(file, ct));
            var json = parse.GetValue(output) == "json";
            if (json) await io.Out.WriteLineAsync(JsonSerializer.Serialize(ToJson(results), ModelJson.Indented));
            else await WriteTextAsync(io, results);
            return results.All(r => r.IsValid) ? 0 : 1;
        });
        return command;
    }

    private static async Task<ManifestFile> ReadAsync(string file, CancellationToken ct)
    {
        try
        {
            var text = file == "-" ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(file, ct);
            return ManifestReader.Read(text, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ManifestFile(file, [], Diagnostic.Error("", $"cannot read: {e.Message}"));
        }
    }

    private static async Task WriteTextAsync(CliIO io, List<ManifestFile> results)
    {
        foreach (var file in results)
        {
            if (file.SyntaxError is { } syntax) await io.Error.WriteLineAsync($"{file.Source}: {syntax}");
            foreach (var doc in file.Documents)
            {
                foreach (var d in doc.Diagnostics.Where(d => d.IsError))
                    await io.Error.WriteLineAsync($"{file.Source}: {doc.Label}: {Line(d)}");
                foreach (var d in doc.Diagnostics.Where(d => !d.IsError))
                    await io.Error.WriteLineAsync($"{file.Source}: {doc.Label}: warning: {Line(d)}");
            }
            if (file.IsValid)
            {
                var count = file.Documents.Count(d => !d.Skipped);
                await io.Out.WriteLineAsync($"{file.Source}: {count} document{(count == 1 ? "" : "s")} valid");
            }
        }
    }

    private static string Line(Diagnostic d) => d.Path.Length == 0 ? d.Message : $"{d.Path}: {d.Message}";

    private static object ToJson(List<ManifestFile> results) => new
    {
        valid = results.All(r => r.IsValid),
        files = results.Select(f => new
        {
            file = f.Source,
            valid = f.IsValid,
            syntaxError = f.SyntaxError is null ? null : Json(f.SyntaxError),
            documents = f.Documents.Select(d => new
            {
                index = d.Index,
                apiVersion = d.ApiVersion,
                kind = d.Kind,
                name = d.Name,
                valid = d.IsValid,
                skipped = d.Skipped,
                errors = d.Diagnostics.Where(x => x.IsError).Select(Json),
                warnings = d.Diagnostics.Where(x => !x.IsError).Select(Json),
            }),
        }),
    };

    private static object Json(Diagnostic d) => new { path = d.Path, message = d.Message, line = d.Position?.Line, column = d.Position?.Column };
}

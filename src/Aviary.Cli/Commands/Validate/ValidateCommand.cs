using System.CommandLine;
using System.Text;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Validation;

namespace Aviary.Cli.Commands.Validate;

/// <summary><c>aviary validate -f FILE...</c>: checks manifests without running anything.</summary>
internal static class ValidateCommand
{
    /// <summary>Largest input read (Kubernetes itself stores objects of at most 1.5 MiB).</summary>
    public const int MaxInputBytes = 16 * 1024 * 1024;

    /// <summary>Exit code when every document is valid.</summary>
    public const int Valid = 0;

    /// <summary>Exit code when a document is invalid or a file cannot be read.</summary>
    public const int Invalid = 1;

    /// <summary>Exit code of a bug in Aviary (as sysexits' EX_SOFTWARE).</summary>
    public const int InternalError = 70;

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
            Warnings (unknown fields, deprecated forms, defaults applied) are printed as
              FILE: Kind/name: warning: field.path: message
            With --output json the same findings are printed to stdout as one JSON object.

            Example:
              aviary validate -f examples/podinfo-linkerd.yaml -f examples/podinfo-istio.yaml
            """) { files, output };
        command.SetAction((parse, ct) => RunAsync(io, parse.GetValue(files) ?? [], parse.GetValue(output) == "json", ct));
        return command;
    }

    private static async Task<int> RunAsync(CliIO io, string[] files, bool json, CancellationToken ct)
    {
        var results = new List<ManifestFile>();
        foreach (var file in files)
        {
            try
            {
                results.Add(await ReadAsync(file, ct));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug in the reader, not bad input: one line, no stack trace.
                await io.Error.WriteLineAsync($"{file}: aviary: internal error: {e.GetType().Name}: {e.Message}");
                return InternalError;
            }
        }
        if (json) await io.Out.WriteLineAsync(JsonSerializer.Serialize(ToJson(results), ModelJson.Indented));
        else await WriteTextAsync(io, results);
        return results.All(r => r.IsValid) ? Valid : Invalid;
    }

    private static async Task<ManifestFile> ReadAsync(string file, CancellationToken ct)
    {
        var (text, error) = file == "-" ? await ReadStdinAsync(ct) : await ReadFileAsync(file, ct);
        if (error is not null) return new ManifestFile(file, [], Diagnostic.Error("", error));
        var result = ManifestReader.Read(text!, file);
        if (result.SyntaxError is null && result.Documents.Count == 0)
            return result with { SyntaxError = Diagnostic.Error("", "no documents found (the input is empty)") };
        return result;
    }

    private static async Task<(string? Text, string? Error)> ReadFileAsync(string file, CancellationToken ct)
    {
        if (Directory.Exists(file)) return (null, "is a directory, not a file");
        if (!File.Exists(file)) return (null, "no such file");
        byte[] bytes;
        try
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, useAsync: true);
            bytes = await ReadLimitedAsync(stream, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"cannot read: {e.Message}");
        }
        if (bytes.Length > MaxInputBytes) return (null, $"is larger than {MaxInputBytes / (1024 * 1024)} MiB");
        return Decode(bytes);
    }

    private static async Task<(string? Text, string? Error)> ReadStdinAsync(CancellationToken ct)
    {
        var buffer = new StringBuilder();
        var chunk = new char[16 * 1024];
        int read;
        while ((read = await Console.In.ReadAsync(chunk.AsMemory(), ct)) > 0)
        {
            buffer.Append(chunk, 0, read);
            if (buffer.Length > MaxInputBytes) return (null, $"is larger than {MaxInputBytes / (1024 * 1024)} MiB");
        }
        return (buffer.ToString(), null);
    }

    /// <summary>Reads at most one byte more than <see cref="MaxInputBytes"/>, so that /dev/zero cannot exhaust memory.</summary>
    private static async Task<byte[]> ReadLimitedAsync(Stream stream, CancellationToken ct)
    {
        using var memory = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            memory.Write(chunk, 0, read);
            if (memory.Length > MaxInputBytes) break;
        }
        return memory.ToArray();
    }

    /// <summary>UTF-8 (with or without BOM) or UTF-16 with BOM, as YAML allows; anything else is refused, not guessed.</summary>
    private static (string? Text, string? Error) Decode(byte[] bytes)
    {
        Encoding encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var skip = 0;
        if (bytes is [0xEF, 0xBB, 0xBF, ..]) skip = 3;
        else if (bytes is [0xFF, 0xFE, ..])
        {
            encoding = new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true);
            skip = 2;
        }
        else if (bytes is [0xFE, 0xFF, ..])
        {
            encoding = new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true);
            skip = 2;
        }
        try
        {
            return (encoding.GetString(bytes, skip, bytes.Length - skip), null);
        }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 ? $" at byte offset {e.Index + skip}" : "";
            var bad = e.BytesUnknown is { Length: > 0 } unknown ? $" (0x{unknown[0]:X2})" : "";
            return (null, $"is not UTF-8 text: invalid byte sequence{at}{bad}; is this a binary file?");
        }
    }

    private static async Task WriteTextAsync(CliIO io, List<ManifestFile> results)
    {
        foreach (var file in results)
        {
            foreach (var doc in file.Documents)
            {
                await DiagnosticLines.WriteAsync(io.Error, file.Source, doc);
            }
            // After the documents read before it: the syntax error is where the reader stopped.
            if (file.SyntaxError is { } syntax) await io.Error.WriteLineAsync($"{file.Source}: {syntax}");
            if (file.IsValid)
            {
                var count = file.Documents.Count(d => !d.Skipped);
                await io.Out.WriteLineAsync($"{file.Source}: {count} document{(count == 1 ? "" : "s")} valid");
            }
        }
    }

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
                label = d.Label,
                valid = d.IsValid,
                skipped = d.Skipped,
                errors = d.Diagnostics.Where(x => x.IsError).Select(Json),
                warnings = d.Diagnostics.Where(x => !x.IsError).Select(Json),
            }),
        }),
    };

    private static object Json(Diagnostic d) => new { path = d.Path, message = d.Message, line = d.Position?.Line, column = d.Position?.Column };
}

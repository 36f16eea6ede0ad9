using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Model;
using Aviary.Core.Primitives;
using Aviary.Core.Validation;

namespace Aviary.Core.Manifests;

/// <summary>One document of a manifest file, read, checked and (when valid) compiled.</summary>
public sealed record ManifestDocument
{
    public required int Index { get; init; }
    public SourcePosition? Start { get; init; }
    public string? ApiVersion { get; init; }
    public string? Kind { get; init; }
    public string? Name { get; init; }

    /// <summary>The typed document, bound from the input without the values that broke the schema.</summary>
    public IManifest? Manifest { get; init; }

    /// <summary>What the runtime uses (a <see cref="Policy.CanaryPolicy"/> for a Canary); null when invalid.</summary>
    public object? Compiled { get; init; }

    public required IReadOnlyList<Diagnostic> Diagnostics { get; init; }

    /// <summary>True for documents of other API groups (a Deployment next to its Canary, say): skipped.</summary>
    public bool Skipped { get; init; }

    public bool IsValid => !Diagnostics.Any(d => d.IsError);

    /// <summary><c>Kind/name</c>, as used in error lines.</summary>
    public string Label => $"{Kind ?? "document"}/{Name ?? $"#{Index + 1}"}";
}

/// <summary>All documents of one source, or the YAML syntax error that stopped reading it.</summary>
public sealed record ManifestFile(string Source, IReadOnlyList<ManifestDocument> Documents, Diagnostic? SyntaxError)
{
    public bool IsValid => SyntaxError is null && Documents.All(d => d.IsValid);

    public IEnumerable<T> Compiled<T>() => Documents.Select(d => d.Compiled).OfType<T>();
}

/// <summary>Reads Canary, MetricTemplate and AlertProvider documents from YAML or JSON.</summary>
public static class ManifestReader
{
    public static ManifestFile Read(string text, string source = "<input>")
    {
        var yaml = YamlReader.Read(text);
        var documents = new List<ManifestDocument>();
        foreach (var doc in yaml.Documents)
        {
            if (doc.Root is null) continue; // an empty document, e.g. after a trailing '---'
            documents.Add(ReadNode(doc.Root, doc.Positions, doc.Index, doc.Start));
        }
        return new ManifestFile(source, documents, yaml.SyntaxError);
    }

    /// <summary>Reads one document from a JSON tree (from YAML, or from the Kubernetes API); may rewrite <paramref name="root"/>.</summary>
    public static ManifestDocument ReadNode(JsonNode root, SourceMap? positions = null, int index = 0, SourcePosition? start = null)
    {
        var bag = new DiagnosticBag();
        if (root is not JsonObject obj)
        {
            bag.Error("", $"a manifest must be a mapping with apiVersion and kind (got {SchemaValidator.Describe(root)})", positions?.Of(root));
            return new ManifestDocument { Index = index, Start = start, Diagnostics = bag.Items };
        }

        obj.TryGetPropertyValue("apiVersion", out var av);
        obj.TryGetPropertyValue("kind", out var k);
        var apiVersion = av.TryGetString(out var a) ? a : null;
        var kind = k.TryGetString(out var kk) ? kk : null;
        var name = obj["metadata"] is JsonObject meta && meta["name"].TryGetString(out var n) ? n : null;
        var document = new ManifestDocument { Index = index, Start = start, ApiVersion = apiVersion, Kind = kind, Name = name, Diagnostics = [] };

        if (apiVersion is null) bag.Error("apiVersion", "required field is missing", positions?.Of(obj));
        if (kind is null) bag.Error("kind", "required field is missing", positions?.Of(obj));
        if (apiVersion is null || kind is null) return document with { Diagnostics = bag.Items };

        var group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        if (!ManifestKinds.Groups.Contains(group))
        {
            bag.Warning("", $"{apiVersion} {kind} is not an Aviary document; skipped");
            return document with { Diagnostics = bag.Items, Skipped = true };
        }

        var match = ManifestKinds.All.FirstOrDefault(x => x.Kind == kind && x.ApiVersion == apiVersion);
        if (match is null)
        {
            var sameKind = ManifestKinds.All.FirstOrDefault(x => x.Kind == kind);
            if (sameKind is not null)
                bag.Error("apiVersion", $"{apiVersion} is not supported for {kind}: use {sameKind.ApiVersion}" +
                    (apiVersion.Contains("v1alpha", StringComparison.Ordinal) ? $" (the {apiVersion[(group.Length + 1)..]} API was removed in Flagger 1.0)" : ""),
                    positions?.OfKey(obj, "apiVersion"));
            else
            {
                var suggestion = Suggestions.Closest(kind, ManifestKinds.All.Select(x => x.Kind));
                bag.Error("kind", $"'{kind}' is not a kind Aviary reads (one of {string.Join(", ", ManifestKinds.All.Select(x => x.Kind).Distinct())})" +
                    (suggestion is null ? "" : $"; did you mean {suggestion}?"), positions?.OfKey(obj, "kind"));
            }
            return document with { Diagnostics = bag.Items };
        }

        match.Preprocess?.Invoke(obj, bag);
        var cleaned = new SchemaValidator(positions, bag).Validate(TypeSchema.For(match.ClrType), obj, "");
        IManifest? manifest = null;
        try
        {
            manifest = (IManifest?)cleaned.Deserialize(match.ClrType, ModelJson.Options);
        }
        catch (JsonException e)
        {
            bag.Error("", $"cannot read the document: {e.Message}");
        }
        object? compiled = null;
        if (manifest is not null)
        {
            var errorsBefore = bag.HasErrors;
            compiled = match.Compile(manifest, bag);
            if (errorsBefore) compiled = null;
        }
        return document with { Manifest = manifest, Compiled = compiled, Diagnostics = bag.Items };
    }
}

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
    /// <summary>
    /// Reads every document of <paramref name="text"/>. Never throws on bad input: problems are diagnostics of
    /// their document, or the <see cref="ManifestFile.SyntaxError"/> that stopped the reader (documents before it
    /// are still read and checked).
    /// </summary>
    public static ManifestFile Read(string text, string source = "<input>")
    {
        ArgumentNullException.ThrowIfNull(text);
        var yaml = YamlReader.Read(text);
        var documents = new List<ManifestDocument>();
        foreach (var doc in yaml.Documents)
        {
            if (doc.Root is null && doc.Diagnostics.Count == 0) continue; // an empty document, e.g. after a trailing '---'
            documents.Add(ReadNode(doc.Root, doc.Positions, doc.Index, doc.Start, doc.Diagnostics));
        }
        return new ManifestFile(source, documents, yaml.SyntaxError);
    }

    /// <summary>
    /// Reads one document from a JSON tree (from YAML, or from the Kubernetes API); may rewrite <paramref name="root"/>.
    /// <paramref name="readerDiagnostics"/> are the YAML reader's findings for this document (duplicate keys, say).
    /// </summary>
    public static ManifestDocument ReadNode(JsonNode? root, SourceMap? positions = null, int index = 0, SourcePosition? start = null,
        IReadOnlyList<Diagnostic>? readerDiagnostics = null)
    {
        var bag = new DiagnosticBag();
        if (readerDiagnostics is not null) bag.AddRange(readerDiagnostics);
        if (root is not JsonObject obj)
        {
            bag.Error("", $"a manifest must be a mapping with apiVersion and kind (got {SchemaValidator.Describe(root)})", positions?.Of(root) ?? start);
            return new ManifestDocument { Index = index, Start = start, Diagnostics = bag.Items };
        }

        var apiVersion = RequiredString(obj, "apiVersion", positions, bag);
        var kind = RequiredString(obj, "kind", positions, bag);
        var name = obj["metadata"] is JsonObject meta && meta["name"].TryGetString(out var n) ? n : null;
        var document = new ManifestDocument { Index = index, Start = start, ApiVersion = apiVersion, Kind = kind, Name = name, Diagnostics = [] };
        if (apiVersion is null || kind is null) return document with { Diagnostics = bag.Items };

        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var group = slash >= 0 ? apiVersion[..slash] : "";
        if (!ManifestKinds.Groups.Contains(group))
        {
            if (LooksLikeOurs(group, kind) is { } meant)
            {
                bag.Error("apiVersion", $"'{apiVersion}' is not an API version of {kind}; did you mean {meant}?", positions?.OfKey(obj, "apiVersion"));
                return document with { Diagnostics = bag.Items };
            }
            bag.Warning("", $"{apiVersion} {kind} is not an Aviary document; skipped");
            return document with { Diagnostics = bag.Items, Skipped = true };
        }

        var match = ManifestKinds.All.FirstOrDefault(x => x.Kind == kind && x.ApiVersion == apiVersion);
        if (match is null)
        {
            var sameKind = ManifestKinds.All.FirstOrDefault(x => x.Kind == kind);
            if (sameKind is not null)
            {
                var removed = group == FlaggerApi.Group && apiVersion.Contains("v1alpha", StringComparison.Ordinal)
                    ? $" (the {apiVersion[(slash + 1)..]} API was removed in Flagger 1.0)"
                    : "";
                bag.Error("apiVersion", $"{apiVersion} is not supported for {kind}: use {sameKind.ApiVersion}{removed}", positions?.OfKey(obj, "apiVersion"));
            }
            else
            {
                var kinds = ManifestKinds.All.Where(x => x.ApiVersion.StartsWith(group + "/", StringComparison.Ordinal)).Select(x => x.Kind).Distinct().ToList();
                var suggestion = Suggestions.Closest(kind, kinds);
                bag.Error("kind", $"'{kind}' is not a kind Aviary reads (one of {string.Join(", ", kinds)})" +
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
            // The schema check removes whatever does not bind, so this is a gap in it: say so rather than crash.
            bag.Error("", $"cannot read the document: {e.Message}");
        }
        object? compiled = null;
        if (manifest is not null)
        {
            var errorsBefore = bag.HasErrors;
            compiled = match.Compile(manifest, bag);
            if (errorsBefore) compiled = null;
        }
        return document with { Manifest = manifest, Compiled = compiled, Diagnostics = Locate(bag.Items, obj, positions) };
    }

    /// <summary>Gives the semantic checks' diagnostics, which know only a field path, the position of that field.</summary>
    private static IReadOnlyList<Diagnostic> Locate(IReadOnlyList<Diagnostic> diagnostics, JsonObject root, SourceMap? positions)
    {
        if (positions is null) return diagnostics;
        return diagnostics.Select(d => d.Position is null && d.Path.Length > 0 ? d with { Position = FieldPath.Locate(root, d.Path, positions) } : d).ToList();
    }

    private static string? RequiredString(JsonObject obj, string key, SourceMap? positions, DiagnosticBag bag)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            bag.Error(key, "required field is missing", positions?.Of(obj));
            return null;
        }
        if (!node.TryGetString(out var value))
        {
            bag.Error(key, $"must be a string (got {SchemaValidator.Describe(node)})", positions?.Of(node));
            return null;
        }
        if (value.Length == 0)
        {
            bag.Error(key, "must not be empty", positions?.Of(node));
            return null;
        }
        return value;
    }

    /// <summary>
    /// The apiVersion a document of another group probably meant: its group is a typo of Aviary's
    /// (<c>flager.app/v1beta1</c>), or it has no group and one of Aviary's kinds (<c>apiVersion: v1beta1</c>).
    /// Anything else is somebody else's document and is skipped.
    /// </summary>
    private static string? LooksLikeOurs(string group, string kind)
    {
        var ours = ManifestKinds.All.FirstOrDefault(x => x.Kind == kind);
        if (group.Length == 0) return ours?.ApiVersion;
        var closest = Suggestions.Closest(group, ManifestKinds.Groups);
        if (closest is null) return null;
        return ours?.ApiVersion ?? ManifestKinds.All.FirstOrDefault(x => x.ApiVersion.StartsWith(closest + "/", StringComparison.Ordinal))?.ApiVersion
            ?? closest;
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Primitives;
using Aviary.Core.Validation;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Validation;

/// <summary>
/// Aviary's model covers every field of Flagger's CRDs (shared/schemas/flagger-crd.yaml) with a compatible type
/// and at least the CRD's constraints, and a document that sets every one of them binds without losing any.
/// </summary>
public sealed class CrdCoverageTests
{
    public static TheoryData<string> Kinds() => new(Crds().Keys);

    private static Dictionary<string, JsonObject> Crds()
    {
        var yaml = YamlReader.Read(File.ReadAllText(Path.Combine(RepoPaths.Shared, "schemas", "flagger-crd.yaml")));
        Assert.Null(yaml.SyntaxError);
        return yaml.Documents.Where(d => d.Root is JsonObject).ToDictionary(
            d => d.Root!["spec"]!["names"]!["kind"]!.GetValue<string>(),
            d => d.Root!["spec"]!["versions"]!.AsArray().Single(v => v!["storage"]!.GetValue<bool>())!["schema"]!["openAPIV3Schema"]!.AsObject());
    }

    private static ManifestKind KindOf(string kind) => ManifestKinds.All.Single(k => k.Kind == kind && k.ApiVersion.StartsWith("flagger.app/", StringComparison.Ordinal));

    [Fact]
    public void Crds_AreTheThreeFlaggerKinds() => Assert.Equal(["AlertProvider", "Canary", "MetricTemplate"], Crds().Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Schema_EveryCrdField_IsInTheModelWithCompatibleTypeAndConstraints(string kind)
    {
        var problems = new List<string>();
        Compare(Crds()[kind], TypeSchema.For(KindOf(kind).ClrType), null, kind, problems);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static void Compare(JsonObject crd, TypeSchema ours, PropertySchema? property, string path, List<string> problems)
    {
        var type = crd["type"]?.GetValue<string>();
        var intOrString = crd["x-kubernetes-int-or-string"]?.GetValue<bool>() == true;
        var ok = (type, ours) switch
        {
            (_, IntOrStringSchema) => intOrString,
            ("string", StringSchema or DateTimeSchema) => true,
            ("boolean", BooleanSchema) => true,
            ("integer", IntegerSchema) => true,
            // Flagger's Go types behind "number" are ints for most fields: an integer is a stricter number.
            ("number", NumberSchema or IntegerSchema) => true,
            ("array", ArraySchema) => true,
            ("object", ObjectSchema or MapSchema) => true,
            ("object", AnySchema) => crd["properties"] is null,
            _ => false,
        };
        if (!ok)
        {
            problems.Add($"{path}: CRD type {type ?? "int-or-string"}, model {ours.GetType().Name}");
            return;
        }

        if (property is not null)
        {
            if (crd["enum"] is JsonArray values)
            {
                foreach (var value in values.Select(v => v!.GetValue<string>()))
                    if (!(property.AllowedValues ?? []).Contains(value) && !(value.Length == 0 && property.AllowedValues is null))
                        problems.Add($"{path}: CRD allows '{value}', the model does not");
            }
            if (crd["minimum"].TryGetNumber(out var min) && property.Range?.Min != min)
                problems.Add($"{path}: CRD minimum {min}, model {property.Range?.Min.ToString() ?? "none"}");
            if (crd["maximum"].TryGetNumber(out var max) && property.Range?.Max != max)
                problems.Add($"{path}: CRD maximum {max}, model {property.Range?.Max.ToString() ?? "none"}");
            if (crd["maxItems"] is { } items && property.MaxItems != (int)items.GetValue<long>())
                problems.Add($"{path}: CRD maxItems {items}, model {property.MaxItems?.ToString() ?? "none"}");
            if (crd["maxLength"] is { } maxLength && property.Length?.Max != (int)maxLength.GetValue<long>())
                problems.Add($"{path}: CRD maxLength {maxLength}, model {property.Length?.Max.ToString() ?? "none"}");
            if (crd["minLength"] is { } minLength && property.Length?.Min != (int)minLength.GetValue<long>())
                problems.Add($"{path}: CRD minLength {minLength}, model {property.Length?.Min.ToString() ?? "none"}");
        }

        switch (ours)
        {
            case ObjectSchema obj:
                foreach (var (name, child) in crd["properties"]?.AsObject() ?? [])
                {
                    var p = obj.Find(name);
                    if (p is null) problems.Add($"{path}.{name}: in the CRD, not in the model");
                    else Compare(child!.AsObject(), p.Schema, p, $"{path}.{name}", problems);
                }
                foreach (var required in crd["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? [])
                    if (obj.Find(required) is { Required: false })
                        problems.Add($"{path}.{required}: required by the CRD, optional in the model");
                break;
            case MapSchema map when crd["additionalProperties"] is JsonObject values:
                Compare(values, map.Value, null, $"{path}{{}}", problems);
                break;
            case ArraySchema array when crd["items"] is JsonObject item:
                Compare(item, array.Element, null, $"{path}[]", problems);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Read_DocumentSettingEveryCrdField_BindsEveryValue(string kind)
    {
        var crd = Crds()[kind];
        var document = Sample(crd, "")!.AsObject();
        document["apiVersion"] = KindOf(kind).ApiVersion;
        document["kind"] = kind;
        document["metadata"] = new JsonObject { ["name"] = "sample", ["namespace"] = "test" };

        var result = ManifestReader.Read(document.ToJsonString());
        var doc = Assert.Single(result.Documents);
        // Semantic rules may object (every field at once is not a sensible canary); the schema must not.
        var schemaProblems = doc.Diagnostics.Where(d => d.Message.StartsWith("unknown field", StringComparison.Ordinal) ||
            d.Message.StartsWith("must be a", StringComparison.Ordinal) || d.Message.StartsWith("must be one of", StringComparison.Ordinal) ||
            d.Message.StartsWith("required field", StringComparison.Ordinal) || d.Message.StartsWith("cannot read", StringComparison.Ordinal)).ToList();
        Assert.True(schemaProblems.Count == 0, string.Join("\n", schemaProblems));
        Assert.NotNull(doc.Manifest);

        var bound = JsonSerializer.SerializeToNode(doc.Manifest, doc.Manifest.GetType(), ModelJson.Options)!;
        var lost = Leaves(document, "").Where(leaf => !SameValue(At(bound, leaf.Path), leaf.Value)).Select(l => l.Path).ToList();
        Assert.True(lost.Count == 0, "not bound: " + string.Join(", ", lost));
    }

    /// <summary>Equal JSON, or the same instant written two ways (the model writes +00:00 for Z).</summary>
    private static bool SameValue(JsonNode? bound, JsonNode? written) =>
        JsonNode.DeepEquals(bound, written) ||
        (bound.TryGetString(out var a) && written.TryGetString(out var b) &&
         DateTimeOffset.TryParse(a, System.Globalization.CultureInfo.InvariantCulture, out var x) &&
         DateTimeOffset.TryParse(b, System.Globalization.CultureInfo.InvariantCulture, out var y) && x == y);

    /// <summary>A value for every property of a CRD schema that the schema itself accepts.</summary>
    private static JsonNode? Sample(JsonObject schema, string name)
    {
        if (schema["enum"] is JsonArray allowed) return allowed.Select(v => v!.GetValue<string>()).First(v => v.Length > 0);
        if (schema["x-kubernetes-int-or-string"]?.GetValue<bool>() == true) return 8080;
        return schema["type"]?.GetValue<string>() switch
        {
            "object" when schema["properties"] is JsonObject props =>
                new JsonObject(props.Select(p => KeyValuePair.Create(p.Key, Sample(p.Value!.AsObject(), p.Key)))),
            "object" when schema["additionalProperties"] is JsonObject values => new JsonObject { ["key"] = Sample(values, "key") },
            "object" => new JsonObject(),
            "array" => new JsonArray(Sample(schema["items"]!.AsObject(), name)),
            "boolean" => true,
            "integer" or "number" => 1,
            "string" when schema["format"]?.GetValue<string>() == "date-time" => "2024-01-02T15:04:05Z",
            "string" when name is "interval" or "timeout" => "1m",
            "string" when name is "url" or "address" or "proxy" => "http://example.com/",
            "string" => "a",
            var other => throw new InvalidOperationException($"no sample for type {other}"),
        };
    }

    private static IEnumerable<(string Path, JsonNode? Value)> Leaves(JsonNode? node, string path) => node switch
    {
        JsonObject obj when obj.Count > 0 => obj.SelectMany(p => Leaves(p.Value, path.Length == 0 ? p.Key : $"{path}.{p.Key}")),
        JsonArray array when array.Count > 0 => array.SelectMany((v, i) => Leaves(v, $"{path}[{i}]")),
        _ => [(path, node)],
    };

    private static JsonNode? At(JsonNode? node, string path)
    {
        foreach (var step in path.Replace("[", ".[", StringComparison.Ordinal).Split('.'))
        {
            node = step.StartsWith('[') ? (node as JsonArray)?[int.Parse(step[1..^1], System.Globalization.CultureInfo.InvariantCulture)]
                : node is JsonObject obj && obj.TryGetPropertyValue(step, out var child) ? child : null;
        }
        return node;
    }
}

using Aviary.Core.Model;
using Aviary.Core.Validation;
using YamlDotNet.Serialization;

namespace Aviary.Kubernetes.Crds;

/// <summary>
/// Aviary's CustomResourceDefinitions, generated from the C# model (the same <see cref="TypeSchema"/> that validates
/// manifests): Canary, MetricTemplate and AlertProvider in Flagger's group <c>flagger.app/v1beta1</c>, so that existing
/// manifests apply unchanged. The schemas are structural (every node typed) and install on Kubernetes 1.20.
/// Semantic rules (stepWeight or iterations, durations, …) stay in Aviary's validator rather than in CEL or oneOf.
/// </summary>
public static class CrdGenerator
{
    /// <summary>All three CRDs as one multi-document YAML file.</summary>
    public static string Yaml()
    {
        var serializer = new SerializerBuilder().DisableAliases().Build();
        var docs = Definitions().Select(d => serializer.Serialize(d).TrimEnd());
        return "# Generated from Aviary's C# model by CrdGenerator (tests/Aviary.Kubernetes.Tests regenerates and compares).\n" +
            string.Join("\n---\n", docs) + "\n";
    }

    public static IEnumerable<Dictionary<string, object>> Definitions()
    {
        yield return Crd(Canary.KindName, "canaries", "canary", typeof(Canary),
        [
            Column("Status", "string", ".status.phase"),
            Column("Weight", "string", ".status.canaryWeight"),
            Column("Suspended", "boolean", ".spec.suspend", 1),
            Column("FailedChecks", "string", ".status.failedChecks", 1),
            Column("Interval", "string", ".spec.analysis.interval", 1),
            Column("Mirror", "boolean", ".spec.analysis.mirror", 1),
            Column("StepWeight", "string", ".spec.analysis.stepWeight", 1),
            Column("StepWeights", "string", ".spec.analysis.stepWeights", 1),
            Column("MaxWeight", "string", ".spec.analysis.maxWeight", 1),
            Column("LastTransitionTime", "string", ".status.lastTransitionTime"),
        ]);
        yield return Crd(MetricTemplate.KindName, "metrictemplates", "metrictemplate", typeof(MetricTemplate),
            [Column("Provider", "string", ".spec.provider.type")]);
        yield return Crd(AlertProvider.KindName, "alertproviders", "alertprovider", typeof(AlertProvider),
            [Column("Type", "string", ".spec.type")]);
    }

    private static Dictionary<string, object> Column(string name, string type, string path, int priority = 0)
    {
        var column = new Dictionary<string, object> { ["name"] = name, ["type"] = type, ["jsonPath"] = path };
        if (priority > 0) column["priority"] = priority;
        return column;
    }

    private static Dictionary<string, object> Crd(string kind, string plural, string singular, Type type, List<Dictionary<string, object>> columns)
    {
        var root = (ObjectSchema)TypeSchema.For(type);
        var properties = new Dictionary<string, object>();
        var required = new List<string>();
        foreach (var p in root.Properties)
        {
            // metadata is the API server's; status is a subresource with its own schema.
            properties[p.JsonName] = p.JsonName == "metadata" ? new Dictionary<string, object> { ["type"] = "object" } : Property(p, depth: 0);
            if (p.Required && p.JsonName is not ("metadata" or "apiVersion" or "kind")) required.Add(p.JsonName);
        }
        var schema = new Dictionary<string, object> { ["type"] = "object", ["properties"] = properties };
        if (required.Count > 0) schema["required"] = required;
        return new Dictionary<string, object>
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new Dictionary<string, object>
            {
                ["name"] = $"{plural}.{FlaggerApi.Group}",
                ["labels"] = new Dictionary<string, object> { ["app.kubernetes.io/part-of"] = "aviary" },
            },
            ["spec"] = new Dictionary<string, object>
            {
                ["group"] = FlaggerApi.Group,
                ["names"] = new Dictionary<string, object>
                {
                    ["kind"] = kind,
                    ["listKind"] = kind + "List",
                    ["plural"] = plural,
                    ["singular"] = singular,
                    ["categories"] = new List<object> { "all" },
                },
                ["scope"] = "Namespaced",
                ["versions"] = new List<object>
                {
                    new Dictionary<string, object>
                    {
                        ["name"] = "v1beta1",
                        ["served"] = true,
                        ["storage"] = true,
                        ["subresources"] = new Dictionary<string, object> { ["status"] = new Dictionary<string, object>() },
                        ["additionalPrinterColumns"] = columns,
                        ["schema"] = new Dictionary<string, object> { ["openAPIV3Schema"] = schema },
                    },
                },
            },
        };
    }

    private static Dictionary<string, object> Property(PropertySchema p, int depth)
    {
        var node = Node(p.Schema, depth);
        if (p.AllowedValues is { } values) node["enum"] = values.Cast<object>().ToList();
        if (p.Range is { } range)
        {
            node["minimum"] = range.Min;
            if (range.Max < int.MaxValue) node["maximum"] = range.Max;
        }
        if (p.Length is { } length)
        {
            if (length.Min > 0) node["minLength"] = length.Min;
            node["maxLength"] = length.Max;
        }
        if (p.MaxItems is { } max) node["maxItems"] = max;
        return node;
    }

    private static Dictionary<string, object> Node(TypeSchema schema, int depth)
    {
        if (depth > 20) throw new InvalidOperationException("model nests too deeply for a CRD");
        switch (schema)
        {
            case StringSchema:
                return new() { ["type"] = "string" };
            case BooleanSchema:
                return new() { ["type"] = "boolean" };
            case IntegerSchema i:
                return new() { ["type"] = "integer", ["format"] = i.Is32Bit ? "int32" : "int64" };
            case NumberSchema:
                return new() { ["type"] = "number" };
            case IntOrStringSchema:
                return new() { ["x-kubernetes-int-or-string"] = true };
            case DateTimeSchema:
                return new() { ["type"] = "string", ["format"] = "date-time" };
            case AnySchema any:
                return any.NodeType == typeof(System.Text.Json.Nodes.JsonArray)
                    ? new() { ["type"] = "array", ["items"] = new Dictionary<string, object> { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true } }
                    : new() { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            case ArraySchema a:
                return new() { ["type"] = "array", ["items"] = Node(a.Element, depth + 1) };
            case MapSchema m:
                return new() { ["type"] = "object", ["additionalProperties"] = Node(m.Value, depth + 1) };
            case ObjectSchema o:
                var properties = new Dictionary<string, object>();
                var required = new List<object>();
                foreach (var p in o.Properties)
                {
                    properties[p.JsonName] = Property(p, depth + 1);
                    if (p.Required) required.Add(p.JsonName);
                }
                var node = new Dictionary<string, object> { ["type"] = "object", ["properties"] = properties };
                if (required.Count > 0) node["required"] = required;
                return node;
            default:
                throw new NotSupportedException(schema.ToString());
        }
    }
}

using Aviary.Kubernetes.Crds;
using Aviary.TestKit;
using YamlDotNet.RepresentationModel;

namespace Aviary.Kubernetes.Tests.Crds;

/// <summary>The CRDs in deploy/kubernetes are generated from the model and field-compatible with Flagger's.</summary>
public sealed class CrdGeneratorTests
{
    private static readonly string Committed = Path.Combine(RepoPaths.Root, "deploy", "kubernetes", "crds.yaml");

    [Fact]
    public void Yaml_CommittedCrds_AreUpToDateWithTheModel()
    {
        var generated = CrdGenerator.Yaml();
        if (Environment.GetEnvironmentVariable("AVIARY_UPDATE_GOLDEN") == "1") File.WriteAllText(Committed, generated);
        Assert.True(File.Exists(Committed), "deploy/kubernetes/crds.yaml is missing: run the tests with AVIARY_UPDATE_GOLDEN=1");
        Assert.True(File.ReadAllText(Committed) == generated, "deploy/kubernetes/crds.yaml is stale: run the tests with AVIARY_UPDATE_GOLDEN=1");
    }

    [Fact]
    public void Yaml_EveryFieldOfFlaggersCrd_ExistsWithACompatibleType()
    {
        var flagger = Fields(File.ReadAllText(Path.Combine(RepoPaths.Shared, "schemas", "flagger-crd.yaml")));
        var aviary = Fields(CrdGenerator.Yaml());
        var missing = flagger.Where(f => !aviary.TryGetValue(f.Key, out var type) || !Compatible(f.Value, type))
            .Select(f => $"{f.Key}: {f.Value} (Aviary: {(aviary.TryGetValue(f.Key, out var t) ? t : "missing")})").ToList();
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    private static bool Compatible(string flagger, string aviary) =>
        flagger == aviary || flagger == "" || (flagger == "number" && aviary == "integer") || (flagger == "int-or-string" && aviary == "int-or-string");

    /// <summary>Every property path of each CRD's schema (e.g. <c>Canary.spec.analysis.stepWeight</c>) with its type.</summary>
    private static Dictionary<string, string> Fields(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is not YamlMappingNode root) continue;
            var spec = (YamlMappingNode)root["spec"];
            var kind = ((YamlScalarNode)((YamlMappingNode)spec["names"])["kind"]).Value!;
            var version = (YamlMappingNode)((YamlSequenceNode)spec["versions"]).Children[0];
            var schema = (YamlMappingNode)((YamlMappingNode)version["schema"])["openAPIV3Schema"];
            Walk(schema, kind, fields);
        }
        return fields;
    }

    private static void Walk(YamlMappingNode node, string path, Dictionary<string, string> fields)
    {
        string Get(string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value ?? "" : "";
        fields[path] = Get("x-kubernetes-int-or-string") == "true" ? "int-or-string" : Get("type");
        if (node.Children.TryGetValue(new YamlScalarNode("properties"), out var props) && props is YamlMappingNode map)
            foreach (var (k, v) in map.Children)
                if (v is YamlMappingNode child) Walk(child, $"{path}.{((YamlScalarNode)k).Value}", fields);
        if (node.Children.TryGetValue(new YamlScalarNode("items"), out var items) && items is YamlMappingNode item) Walk(item, path + "[]", fields);
        if (node.Children.TryGetValue(new YamlScalarNode("additionalProperties"), out var extra) && extra is YamlMappingNode value) Walk(value, path + "{}", fields);
    }
}

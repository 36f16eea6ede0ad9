using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Primitives;
using Aviary.Core.Validation;

namespace Aviary.Core.Simulation;

/// <summary>Reads and checks a simulation scenario.</summary>
public static class ScenarioReader
{
    public static (Scenario? Scenario, IReadOnlyList<Diagnostic> Diagnostics) Read(string text)
    {
        var bag = new DiagnosticBag();
        var yaml = YamlReader.Read(text);
        if (yaml.SyntaxError is { } syntax) return (null, [syntax]);
        var root = yaml.Documents.FirstOrDefault(d => d.Root is not null);
        if (root is null) return (Scenario.Default, []);
        var cleaned = new SchemaValidator(root.Positions, bag).Validate(TypeSchema.For(typeof(Scenario)), root.Root, "");
        var scenario = cleaned?.Deserialize<Scenario>(ModelJson.Options);
        if (scenario is not null)
        {
            if (scenario.Ticks is < 1 or > 100_000) bag.Error("ticks", $"must be between 1 and 100000 (got {scenario.Ticks})");
            for (var i = 0; i < (scenario.Revisions?.Count ?? 0); i++)
                if (scenario.Revisions![i] < 0) bag.Error($"revisions[{i}]", $"must be a tick number, 0 or more (got {scenario.Revisions[i]})");
            foreach (var (name, values) in scenario.Metrics ?? new Dictionary<string, System.Text.Json.Nodes.JsonArray>())
                for (var i = 0; i < values.Count; i++)
                    if (values[i] is not null && !values[i].TryGetNumber(out _))
                        bag.Error($"{FieldPath.Property("metrics", name)}[{i}]", $"must be a number or null (got {SchemaValidator.Describe(values[i])})");
            foreach (var (name, values) in scenario.Webhooks ?? new Dictionary<string, IReadOnlyList<int>>())
                for (var i = 0; i < values.Count; i++)
                    if (values[i] is < 100 or > 599)
                        bag.Error($"{FieldPath.Property("webhooks", name)}[{i}]", $"must be an HTTP status between 100 and 599 (got {values[i]})");
        }
        return bag.HasErrors ? (null, bag.Items) : (scenario, bag.Items);
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Scheduling;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;

namespace Aviary.Cli.Commands.Cluster;

/// <summary>
/// kubectl's conventions for the verbs that can reach a cluster instead of the local controller: <c>--kubeconfig</c>,
/// <c>--context</c>, <c>-A</c>. A verb talks to the cluster when one of these is given, or when the CLI runs as the
/// kubectl plugin (<c>kubectl aviary …</c>, through the <c>kubectl-aviary</c> script, which sets
/// <see cref="PluginVariable"/>); it then uses the kubeconfig as kubectl does ($KUBECONFIG, ~/.kube/config) and the
/// context's namespace unless <c>-n</c> says otherwise. Requests go with the user's own credentials (exec plugins
/// included), so RBAC governs them: actions are a patch of the Canary's <c>aviary.dev/action</c> annotation.
/// </summary>
internal sealed class ClusterOptions
{
    public const string PluginVariable = "AVIARY_KUBECTL_PLUGIN";

    public Option<string?> Kubeconfig { get; } = new("--kubeconfig") { Description = "Talk to this cluster (kubectl's kubeconfig) instead of the local controller." };

    public Option<string?> Context { get; } = new("--context") { Description = "The kubeconfig context to use (implies the cluster)." };

    public Option<bool> AllNamespaces { get; } = new("--all-namespaces", "-A") { Description = "On a cluster: every namespace." };

    public IEnumerable<Option> All => [Kubeconfig, Context, AllNamespaces];

    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    public bool Active(ParseResult parse) =>
        parse.GetValue(Kubeconfig) is not null || parse.GetValue(Context) is not null || parse.GetValue(AllNamespaces) ||
        Environment.GetEnvironmentVariable(PluginVariable) == "1";

    /// <summary>A client for the kubeconfig's cluster, or null after printing why not.</summary>
    public KubeClient? Connect(ParseResult parse, CliIO io, string verb)
    {
        try
        {
            return new KubeClient(KubeClientConfig.Default(parse.GetValue(Kubeconfig), parse.GetValue(Context)));
        }
        catch (Exception e) when (e is KubeConfigException or IOException or UnauthorizedAccessException)
        {
            io.Error.WriteLine($"aviary {verb}: {e.Message}");
            return null;
        }
    }

    /// <summary>The namespace to use: -A (null), -n, else the context's.</summary>
    public string? Namespace(ParseResult parse, Option<string?> ns, KubeClient client) =>
        parse.GetValue(AllNamespaces) ? null : parse.GetValue(ns) ?? client.Config.Namespace;
}

/// <summary>What the cluster verbs print; one place, so that get, --watch, describe and events agree.</summary>
internal static class ClusterViews
{
    public static string[] Header(bool allNamespaces, bool wide)
    {
        var h = new List<string>();
        if (allNamespaces) h.Add("NAMESPACE");
        h.AddRange(["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]);
        if (wide) h.AddRange(["FAILEDCHECKS", "ITERATIONS", "TARGET", "PROVIDER"]);
        return [.. h];
    }

    public static string[] Row(JsonObject canary, bool allNamespaces, bool wide)
    {
        var status = canary["status"];
        var spec = canary["spec"];
        var r = new List<string>();
        if (allNamespaces) r.Add(Text(canary["metadata"]?["namespace"]));
        r.AddRange([Text(canary["metadata"]?["name"]), Text(status?["phase"]), Text(status?["canaryWeight"], "0"), Text(status?["lastTransitionTime"])]);
        if (wide)
        {
            r.AddRange([Text(status?["failedChecks"], "0"), Text(status?["iterations"], "0"),
                $"{Text(spec?["targetRef"]?["kind"])}/{Text(spec?["targetRef"]?["name"])}", Text(spec?["provider"])]);
        }
        return [.. r];
    }

    public static string Text(JsonNode? node, string empty = "") => node switch
    {
        null => empty,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    /// <summary>kubectl's <c>-o json</c> of a list: a v1 List of the objects as the API server gave them.</summary>
    public static JsonObject List(IEnumerable<JsonObject> items) =>
        new() { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray(items.Select(i => (JsonNode?)i.DeepClone()).ToArray()), ["metadata"] = new JsonObject() };

    /// <summary>YAML of a JSON document, block style; strings are double-quoted JSON strings, which YAML reads back exactly.</summary>
    public static string Yaml(JsonNode? node)
    {
        var text = new StringBuilder();
        Write(text, node, 0, inList: false);
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonNode? node, int indent, bool inList)
    {
        var pad = new string(' ', indent);
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                var first = true;
                foreach (var (key, value) in o)
                {
                    text.Append(first && inList ? "" : pad).Append(Key(key)).Append(':');
                    first = false;
                    if (value is JsonObject { Count: > 0 } || value is JsonArray { Count: > 0 })
                    {
                        text.Append('\n');
                        Write(text, value, value is JsonArray ? indent : indent + 2, inList: false);
                    }
                    else
                    {
                        text.Append(' ').Append(Scalar(value)).Append('\n');
                    }
                }
                break;
            case JsonArray a when a.Count > 0:
                foreach (var item in a)
                {
                    text.Append(pad).Append("- ");
                    if (item is JsonObject { Count: > 0 }) Write(text, item, indent + 2, inList: true);
                    else if (item is JsonArray { Count: > 0 }) { text.Append('\n'); Write(text, item, indent + 2, inList: false); }
                    else text.Append(Scalar(item)).Append('\n');
                }
                break;
            default:
                text.Append(pad).Append(Scalar(node)).Append('\n');
                break;
        }
    }

    private static string Key(string key) =>
        key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/') && key.Length > 0 ? key : JsonSerializer.Serialize(key);

    private static string Scalar(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        _ => node.ToJsonString(),
    };

    public static string Age(JsonNode? time, DateTimeOffset now) =>
        time is JsonValue v && v.GetValueKind() == JsonValueKind.String &&
        DateTimeOffset.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? StateReader.Age(t, now) : "";

    /// <summary>Requests an action with the user's own credentials; prints the outcome (RBAC's refusal included).</summary>
    public static async Task<int> ActAsync(CliIO io, KubeClient client, string ns, string name, ManualActionKind kind, CancellationToken ct)
    {
        var who = $"{Environment.UserName}@{Environment.MachineName} (aviary {kind.ToString().ToLowerInvariant()}, {client.Config.Source})";
        var result = await CanaryController.RequestActionAsync(client, ns, name, kind, who, ct);
        var verb = kind.ToString().ToLowerInvariant();
        if (!result.Succeeded)
        {
            await io.Error.WriteLineAsync(result.IsNotFound ? $"aviary {verb}: canary {name} not found in namespace {ns}"
                : result.IsForbidden ? $"aviary {verb}: refused by the cluster: {result.Error!.Message}"
                : $"aviary {verb}: {result.Error}");
            return 1;
        }
        await io.Out.WriteLineAsync($"{verb} of {ns}/{name} requested (annotation {CanaryController.ActionAnnotation}); the operator applies it at once and records an event (aviary events {name} -n {ns})");
        return 0;
    }
}

/// <summary><c>describe canary</c> and <c>events</c> on a cluster: the Canary's status and its core/v1 Events.</summary>
internal static class ClusterReads
{
    public static async Task<int> DescribeAsync(CliIO io, KubeClient client, string ns, string name, TimeProvider time, CancellationToken ct)
    {
        var got = await client.Resource(KubeResources.Canaries).GetAsync(ns, name, ct);
        if (!got.Succeeded)
        {
            await io.Error.WriteLineAsync(got.IsNotFound ? $"aviary describe: canary {name} not found in namespace {ns}"
                : $"aviary describe: {(got.IsForbidden ? "refused by the cluster: " + got.Error!.Message : got.Error!.ToString())}");
            return 1;
        }
        var c = got.Value;
        var s = c["status"];
        var o = io.Out;
        string T(JsonNode? n) => ClusterViews.Text(n);
        o.WriteLine($"Name:         {name}");
        o.WriteLine($"Namespace:    {ns}");
        o.WriteLine($"API Version:  {T(c["apiVersion"])}");
        o.WriteLine("Kind:         Canary");
        o.WriteLine($"Target:       {T(c["spec"]?["targetRef"]?["kind"])}/{T(c["spec"]?["targetRef"]?["name"])}");
        var annotations = c["metadata"]?["annotations"] as JsonObject;
        if (annotations?[CanaryController.ActionAnnotation] is { } pending)
            o.WriteLine($"Pending:      {T(pending)} (requested by {T(annotations[CanaryController.ActionByAnnotation]) switch { "" => "someone", var w => w }})");
        if (annotations?.ContainsKey(CanaryController.PausedAnnotation) == true) o.WriteLine("Paused:       yes");
        o.WriteLine("Status:");
        o.WriteLine($"  Canary Weight:         {T(s?["canaryWeight"]) switch { "" => "0", var w => w }}");
        o.WriteLine($"  Failed Checks:         {T(s?["failedChecks"]) switch { "" => "0", var w => w }}");
        o.WriteLine($"  Iterations:            {T(s?["iterations"]) switch { "" => "0", var w => w }}");
        o.WriteLine($"  Phase:                 {T(s?["phase"])}");
        o.WriteLine($"  Last Applied Spec:     {T(s?["lastAppliedSpec"])}");
        o.WriteLine($"  Last Promoted Spec:    {T(s?["lastPromotedSpec"])}");
        o.WriteLine($"  Last Transition Time:  {T(s?["lastTransitionTime"])}");
        foreach (var cond in (s?["conditions"] as JsonArray ?? []).OfType<JsonObject>())
            o.WriteLine($"  Condition {T(cond["type"])}:  {T(cond["status"])} ({T(cond["reason"])}) {T(cond["message"])}");
        o.WriteLine("Events:");
        var events = await EventsOfAsync(client, ns, name, ct);
        if (events is null || events.Count == 0)
        {
            o.WriteLine(events is null ? "  <cannot list events>" : "  <none>");
            return 0;
        }
        var now = time.GetUtcNow();
        var table = new List<string[]> { new[] { "  Type", "Reason", "Age", "From", "Message" }, new[] { "  ----", "------", "----", "----", "-------" } };
        table.AddRange(events.TakeLast(40).Select(e => new[]
        {
            "  " + T(e["type"]), T(e["reason"]), ClusterViews.Age(e["lastTimestamp"] ?? e["eventTime"], now), T(e["source"]?["component"]), T(e["message"]),
        }));
        Tables.Write(o, table);
        return 0;
    }

    /// <summary>The canaries' Events, oldest first; with <paramref name="watch"/>, then each new or repeated one as it comes.</summary>
    public static async Task<int> EventsAsync(CliIO io, KubeClient client, string? ns, string? name, bool json, bool watch, CancellationToken ct)
    {
        var selector = "involvedObject.kind=Canary" + (name is null ? "" : $",involvedObject.name={name}");
        if (!json) await io.Out.WriteLineAsync("TIME                   TYPE      CANARY               MESSAGE");
        if (!watch)
        {
            var listed = await client.Resource(KubeResources.Events).ListAllAsync(ns, new ListOptions { FieldSelector = selector }, ct);
            if (!listed.Succeeded)
            {
                await io.Error.WriteLineAsync($"aviary events: {(listed.IsForbidden ? "refused by the cluster: " + listed.Error!.Message : listed.Error!.ToString())}");
                return 1;
            }
            foreach (var e in Sorted(listed.Value.Items)) await PrintAsync(io, e, json);
            return 0;
        }
        var initial = new List<JsonObject>();
        var synced = false;
        try
        {
            await foreach (var e in client.Resource(KubeResources.Events).WatchAllAsync(ns, new WatchAllOptions { FieldSelector = selector }, ct))
            {
                if (e.Type == WatchEventType.Error)
                {
                    await io.Error.WriteLineAsync($"aviary events --watch: {e.Error}; retrying");
                    continue;
                }
                if (e.Type == WatchEventType.Synced && !synced)
                {
                    synced = true;
                    foreach (var old in Sorted(initial)) await PrintAsync(io, old, json);
                    continue;
                }
                if (e.Object is not JsonObject o || e.Type is not (WatchEventType.Added or WatchEventType.Modified)) continue;
                if (synced) await PrintAsync(io, o, json);
                else initial.Add(o);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return 0;
    }

    private static async Task PrintAsync(CliIO io, JsonObject e, bool json)
    {
        var canary = $"{ClusterViews.Text(e["involvedObject"]?["name"])}.{ClusterViews.Text(e["involvedObject"]?["namespace"])}";
        var when = ClusterViews.Text(e["lastTimestamp"] ?? e["eventTime"]);
        if (json)
        {
            await io.Out.WriteLineAsync(new JsonObject
            {
                ["time"] = when, ["type"] = ClusterViews.Text(e["type"]), ["reason"] = ClusterViews.Text(e["reason"]),
                ["canary"] = canary, ["message"] = ClusterViews.Text(e["message"]), ["count"] = e["count"]?.DeepClone(),
            }.ToJsonString());
        }
        else
        {
            await io.Out.WriteLineAsync($"{when,-22} {ClusterViews.Text(e["type"]),-9} {canary,-20} {ClusterViews.Text(e["message"])}");
        }
        await io.Out.FlushAsync();
    }

    private static async Task<List<JsonObject>?> EventsOfAsync(KubeClient client, string ns, string name, CancellationToken ct)
    {
        var listed = await client.Resource(KubeResources.Events).ListAllAsync(ns,
            new ListOptions { FieldSelector = $"involvedObject.kind=Canary,involvedObject.name={name}" }, ct);
        return listed.Succeeded ? Sorted(listed.Value.Items) : null;
    }

    private static List<JsonObject> Sorted(IEnumerable<JsonObject> events) =>
        events.OrderBy(e => ClusterViews.Text(e["lastTimestamp"] ?? e["eventTime"] ?? e["firstTimestamp"]), StringComparer.Ordinal).ToList();
}

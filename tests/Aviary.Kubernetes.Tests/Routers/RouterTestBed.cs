using System.Net;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// One namespace of the shared test API server for router tests: an admin client, the router factory, and Canary
/// objects created in the server (Flagger's CRD) so that owner references carry a real uid. Objects are read back as
/// the server stores them (raw JSON, as admin), never through the router under test.
/// </summary>
internal sealed class RouterTestBed : IDisposable
{
    private RouterTestBed(KubeApiServer server, string ns)
    {
        Server = server;
        Namespace = ns;
        Client = new KubeClient(KubeClientConfig.FromKubeconfig(server.AdminKubeconfig));
        Factory = new KubeRouterFactory(Client);
    }

    public KubeApiServer Server { get; }

    public string Namespace { get; }

    public KubeClient Client { get; }

    public KubeRouterFactory Factory { get; }

    public static async Task<RouterTestBed> CreateAsync(KubeApiServer server, string prefix) =>
        new(server, await server.CreateNamespaceAsync(prefix));

    public IKubeRouter Router(string provider)
    {
        var created = Factory.Create(provider);
        Assert.True(created.Succeeded, created.Error);
        return created.Value!;
    }

    /// <summary>A Canary named podinfo (target podinfo) with the given provider, service and analysis lines.</summary>
    public string CanaryYaml(string provider, string service = "port: 9898", string analysis = "stepWeight: 10\n    maxWeight: 50", string extraSpec = "") => $"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
          namespace: {Namespace}
        spec:
          provider: {provider}
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          {extraSpec}
          service:
            {service}
          analysis:
            interval: 1m
            threshold: 5
            {analysis}
        """;

    /// <summary>Creates (or updates) the Canary in the API server and returns its policy with the server's uid.</summary>
    public async Task<CanaryPolicy> CanaryAsync(string provider, string service = "port: 9898", string analysis = "stepWeight: 10\n    maxWeight: 50",
        string extraSpec = "")
    {
        var yaml = CanaryYaml(provider, service, analysis, extraSpec);
        await Server.ApplyAsync(yaml);
        var uid = (await Server.KubectlAsync("get", "canary", "podinfo", "-n", Namespace, "-o", "jsonpath={.metadata.uid}")).Trim();
        Assert.False(string.IsNullOrEmpty(uid));
        var policy = SchedulerHarness.CompileForRouter(yaml);
        return policy with { Manifest = policy.Manifest with { Metadata = policy.Manifest.Metadata with { Uid = uid } } };
    }

    /// <summary>The object at an API path under this namespace (e.g. <c>split.smi-spec.io/v1alpha2</c>, <c>trafficsplits/podinfo</c>), or null when missing.</summary>
    public async Task<JsonObject?> ReadAsync(string apiVersion, string resource)
    {
        var prefix = apiVersion.Contains('/', StringComparison.Ordinal) ? "/apis/" + apiVersion : "/api/" + apiVersion;
        var (status, body) = await Server.RequestAsync(HttpMethod.Get, $"{prefix}/namespaces/{Namespace}/{resource}");
        if (status == HttpStatusCode.NotFound) return null;
        Assert.True(status == HttpStatusCode.OK, $"GET {resource}: {(int)status} {body}");
        return (JsonObject)JsonNode.Parse(body)!;
    }

    public async Task<JsonObject> RequireAsync(string apiVersion, string resource) =>
        await ReadAsync(apiVersion, resource) ?? throw new Xunit.Sdk.XunitException($"{resource} does not exist in {Namespace}");

    /// <summary>Merge-patches an object as the admin (another tool's edit).</summary>
    public async Task PatchAsync(string apiVersion, string resource, JsonNode patch)
    {
        var prefix = apiVersion.Contains('/', StringComparison.Ordinal) ? "/apis/" + apiVersion : "/api/" + apiVersion;
        var (status, body) = await Server.RequestAsync(HttpMethod.Patch, $"{prefix}/namespaces/{Namespace}/{resource}", patch, "application/merge-patch+json");
        Assert.True(status == HttpStatusCode.OK, $"PATCH {resource}: {(int)status} {body}");
    }

    public static string? ResourceVersion(JsonObject value) => value["metadata"]?["resourceVersion"]?.GetValue<string>();

    /// <summary>
    /// Adds <c>split.smi-spec.io/v1alpha3</c> to the TrafficSplit CRD of the shared server when it is missing (the shared
    /// CRD serves v1alpha1 and v1alpha2, as Linkerd's SMI extension does) and waits until the server serves it.
    /// Additive: objects of the other versions are unaffected.
    /// </summary>
    public async Task EnsureSmiV1Alpha3Async()
    {
        const string path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trafficsplits.split.smi-spec.io";
        for (var attempt = 0; ; attempt++)
        {
            var (status, body) = await Server.RequestAsync(HttpMethod.Get, path);
            Assert.True(status == HttpStatusCode.OK, $"GET the TrafficSplit CRD: {(int)status} {body}");
            var crd = (JsonObject)JsonNode.Parse(body)!;
            var versions = crd["spec"]!["versions"]!.AsArray();
            if (versions.Any(v => v?["name"]?.GetValue<string>() == "v1alpha3")) break;
            var v1alpha3 = versions.Single(v => v?["name"]?.GetValue<string>() == "v1alpha2")!.DeepClone().AsObject();
            v1alpha3["name"] = "v1alpha3";
            v1alpha3["storage"] = false;
            versions.Add(v1alpha3);
            var (put, answer) = await Server.RequestAsync(HttpMethod.Put, path, crd);
            if (put == HttpStatusCode.OK) break;
            Assert.True(put == HttpStatusCode.Conflict && attempt < 5, $"PUT the TrafficSplit CRD: {(int)put} {answer}");
        }
        for (var i = 0; ; i++)
        {
            var (status, _) = await Server.RequestAsync(HttpMethod.Get, $"/apis/split.smi-spec.io/v1alpha3/namespaces/{Namespace}/trafficsplits");
            if (status == HttpStatusCode.OK) return;
            Assert.True(i < 600, $"split.smi-spec.io/v1alpha3 is not served: {(int)status}");
            await Task.Delay(50);
        }
    }

    public static void Succeeded(Outcome outcome) => Assert.True(outcome.Succeeded, outcome.Error);

    public static RouteWeights Weights(Outcome<RouteWeights> outcome)
    {
        Assert.True(outcome.Succeeded, outcome.Error);
        return outcome.Value;
    }

    /// <summary>Asserts that <paramref name="actual"/> contains <paramref name="expected"/> (the server may add defaults), with both in the message.</summary>
    public static void AssertShape(string expected, JsonNode? actual)
    {
        var wanted = JsonNode.Parse(expected);
        Assert.True(Contains(actual, wanted), $"expected (at least)\n{wanted?.ToJsonString()}\nbut the server has\n{actual?.ToJsonString()}");
    }

    /// <summary>Exact equality of two JSON documents (properties in any order).</summary>
    public static void AssertJson(string expected, JsonNode? actual)
    {
        var wanted = JsonNode.Parse(expected);
        Assert.True(JsonNode.DeepEquals(Normalize(wanted), Normalize(actual)), $"expected\n{wanted?.ToJsonString()}\nbut the server has\n{actual?.ToJsonString()}");
    }

    private static JsonNode? Normalize(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, Normalize(kv.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Normalize)]),
        null => null,
        _ => node.DeepClone(),
    };

    private static bool Contains(JsonNode? actual, JsonNode? expected) => expected switch
    {
        null => actual is null,
        JsonObject e => actual is JsonObject a && e.All(kv => a.TryGetPropertyValue(kv.Key, out var v) && Contains(v, kv.Value)),
        JsonArray e => actual is JsonArray a && a.Count == e.Count && e.Select((v, i) => Contains(a[i], v)).All(x => x),
        _ => actual is JsonValue && JsonNode.DeepEquals(actual, expected),
    };

    public void Dispose() => Client.Dispose();
}

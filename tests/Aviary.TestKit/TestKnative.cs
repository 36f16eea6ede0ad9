using System.Net;
using System.Text.Json.Nodes;

namespace Aviary.TestKit;

/// <summary>
/// What Knative Serving's controller does with a Service, played against the real API server (Knative itself needs a
/// container runtime and its Go images, which these machines do not have): <see cref="PublishRevisionAsync"/> is a new
/// revision of the Service's template (a <c>Revision</c> object with its <c>Ready</c> condition, and the Service's
/// <c>status.latestCreatedRevisionName</c>/<c>latestReadyRevisionName</c>), and <see cref="ApplyTrafficAsync"/> copies
/// <c>spec.traffic</c> to <c>status.traffic</c> as Knative's route reconciler reports it (a <c>latestRevision</c> target
/// gains the latest ready revision's name).
/// </summary>
public static class TestKnative
{
    public static string ServicePath(string @namespace, string name) => $"/apis/serving.knative.dev/v1/namespaces/{@namespace}/services/{name}";

    /// <summary>Creates the Knative Service <paramref name="name"/> with one ready revision <c>&lt;name&gt;-00001</c>.</summary>
    public static async Task CreateServiceAsync(KubeApiServer server, string @namespace, string name, string image = "ghcr.io/stefanprodan/podinfo:6.0.0")
    {
        await server.ApplyAsync($"""
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata:
              name: {name}
              namespace: {@namespace}
            spec:
              template:
                spec:
                  containers:
                  - image: {image}
            """);
        await PublishRevisionAsync(server, @namespace, name, 1, ready: true);
    }

    /// <summary>Revision <c>&lt;name&gt;-0000N</c> of the Service, ready or failing, and the Service's status naming it.</summary>
    public static async Task<string> PublishRevisionAsync(KubeApiServer server, string @namespace, string name, int generation, bool ready)
    {
        var revision = $"{name}-{generation:D5}";
        await server.ApplyAsync($"""
            apiVersion: serving.knative.dev/v1
            kind: Revision
            metadata:
              name: {revision}
              namespace: {@namespace}
              labels:
                serving.knative.dev/service: {name}
            spec:
              containers:
              - image: ghcr.io/stefanprodan/podinfo:6.0.0
            """);
        var condition = new JsonObject
        {
            ["type"] = "Ready",
            ["status"] = ready ? "True" : "False",
            ["lastTransitionTime"] = "2026-01-01T00:00:00Z",
        };
        if (!ready) (condition["reason"], condition["message"]) = ("ContainerMissing", "image not found");
        await server.PatchStatusAsync($"/apis/serving.knative.dev/v1/namespaces/{@namespace}/revisions/{revision}",
            new JsonObject { ["status"] = new JsonObject { ["conditions"] = new JsonArray(condition) } });
        var status = new JsonObject { ["latestCreatedRevisionName"] = revision };
        if (ready) status["latestReadyRevisionName"] = revision;
        await server.PatchStatusAsync(ServicePath(@namespace, name), new JsonObject { ["status"] = status });
        return revision;
    }

    /// <summary>
    /// Reports the Service's <c>spec.traffic</c> in <c>status.traffic</c> when they differ; returns the Service as it is
    /// afterwards (null when it does not exist).
    /// </summary>
    public static async Task<JsonObject?> ApplyTrafficAsync(KubeApiServer server, string @namespace, string name, CancellationToken cancellationToken = default)
    {
        var (code, body) = await server.RequestAsync(HttpMethod.Get, ServicePath(@namespace, name), cancellationToken: cancellationToken);
        if (code != HttpStatusCode.OK || JsonNode.Parse(body) is not JsonObject service) return null;
        var latest = service["status"]?["latestReadyRevisionName"]?.GetValue<string>();
        var applied = new JsonArray();
        foreach (var target in (service["spec"]?["traffic"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var copy = (JsonObject)target.DeepClone();
            if (copy["latestRevision"] is JsonValue v && v.GetValue<bool>() && latest is not null) copy["revisionName"] = latest;
            applied.Add(copy);
        }
        if (JsonNode.DeepEquals(service["status"]?["traffic"], applied)) return service;
        await server.PatchStatusAsync(ServicePath(@namespace, name), new JsonObject { ["status"] = new JsonObject { ["traffic"] = applied } }, cancellationToken);
        var (again, text) = await server.RequestAsync(HttpMethod.Get, ServicePath(@namespace, name), cancellationToken: cancellationToken);
        return again == HttpStatusCode.OK ? JsonNode.Parse(text) as JsonObject : null;
    }
}

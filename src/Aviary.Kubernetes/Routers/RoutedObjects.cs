using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Reads and writes the routing objects of one resource with Flagger's error wording (<c>TrafficSplit podinfo.test
/// get query error: …</c>): a get that tells "missing" from "failed", and a read-change-write that retries on 409.
/// </summary>
internal sealed class RoutedObjects(KubeClient client, ResourceType type, ILogger logger)
{
    private const int MaxAttempts = 5;

    private readonly ResourceClient<JsonObject> _resource = client.Resource(type);

    public ResourceType Type { get; } = type;

    public string Kind => Type.Kind;

    /// <summary>The object, null when it does not exist, or the error.</summary>
    public async Task<(JsonObject? Value, string? Error)> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var got = await _resource.GetAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
        if (got.IsNotFound) return (null, null);
        return got.Succeeded ? (got.Value, null) : (null, $"{Kind} {name}.{@namespace} get query error: {got.Error!.Message}");
    }

    /// <summary>The object, or an error that also covers a missing one.</summary>
    public async Task<Outcome<JsonObject>> RequireAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var (value, error) = await GetAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome<JsonObject>.Fail(error);
        return value is null
            ? Outcome<JsonObject>.Fail($"{Kind} {name}.{@namespace} get query error: {Kind.ToLowerInvariant()} \"{name}\" not found")
            : Outcome<JsonObject>.Ok(value);
    }

    /// <summary>
    /// Reads the object and writes what <paramref name="build"/> makes of it (a new object when it is missing and
    /// <paramref name="create"/> is set; no write when <paramref name="build"/> returns null), reading again on 409.
    /// <paramref name="build"/> may run several times and must not have side effects.
    /// </summary>
    public async Task<Outcome> ApplyAsync(string @namespace, string name, bool create, Func<JsonObject?, JsonObject?> build,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (current, error) = await GetAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
            if (error is not null) return Outcome.Fail(error);
            if (current is null && !create)
                return Outcome.Fail($"{Kind} {name}.{@namespace} get query error: {Kind.ToLowerInvariant()} \"{name}\" not found");
            var next = build(current);
            if (next is null) return Outcome.Ok;
            var written = current is null
                ? await _resource.CreateAsync(next, cancellationToken).ConfigureAwait(false)
                : await _resource.UpdateAsync(next, cancellationToken).ConfigureAwait(false);
            if (written.Succeeded)
            {
                if (current is null) KubeRouterLog.Created(logger, Kind, name, @namespace);
                else KubeRouterLog.Updated(logger, Kind, name, @namespace);
                return Outcome.Ok;
            }
            if ((written.IsConflict || written.IsAlreadyExists) && attempt < MaxAttempts)
            {
                KubeRouterLog.Conflict(logger, Kind, name, @namespace, attempt);
                continue;
            }
            return Outcome.Fail($"{Kind} {name}.{@namespace} {(current is null ? "create" : "update")} error: {written.Error!.Message}");
        }
    }

    /// <summary>Deletes the object; a missing one is fine.</summary>
    public async Task<Outcome> DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var deleted = await _resource.DeleteAsync(@namespace, name, null, cancellationToken).ConfigureAwait(false);
        return deleted.Succeeded || deleted.IsNotFound ? Outcome.Ok : Outcome.Fail($"{Kind} {name}.{@namespace} delete error: {deleted.Error!.Message}");
    }
}

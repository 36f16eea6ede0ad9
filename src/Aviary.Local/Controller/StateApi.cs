using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Scheduling;
using Aviary.Local.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aviary.Local.Controller;

/// <summary>A canary as <c>GET /api/v1/canaries</c> returns it.</summary>
public sealed record CanaryView(string Key, string Namespace, string Name, CanaryStatus Status, DateTimeOffset UpdatedAt);

/// <summary>An event as <c>GET /api/v1/events</c> returns it; <see cref="Id"/> orders events and pages a watch.</summary>
public sealed record EventView(long Id, string Canary, DateTimeOffset Time, EventType Type, string Reason, string Message);

/// <summary>One analysis check as <c>GET /api/v1/canaries/{ns}/{name}/checks</c> returns it, oldest first.</summary>
public sealed record CheckView(
    long Id, DateTimeOffset Time, string Kind, string Name, double? Value, double? Min, double? Max, CheckResult Result, string? Message,
    IReadOnlyDictionary<string, double>? Details);

/// <summary>
/// The controller's read API: what the CLI shows (<c>get</c>, <c>describe</c>, <c>events</c>) comes from here, never from
/// the state file, so the SQLite schema stays private to <see cref="StateStore"/>. The JSON is <see cref="ModelJson"/>'s
/// (camelCase, enums as strings); the records above are the contract.
/// </summary>
public static class StateApi
{
    public const int MaxLimit = 1000;

    /// <summary>Maps the read endpoints on <paramref name="api"/> (a group that already requires the token).</summary>
    public static void Map(IEndpointRouteBuilder api, StateStore store)
    {
        api.MapGet("/canaries", () => Json(store.ListCanaries().Select(View)));
        api.MapGet("/canaries/{ns}/{name}", (string ns, string name) =>
            Find(store, ns, name) is { } c ? Json(View(c)) : NotFound(ns, name));
        api.MapGet("/canaries/{ns}/{name}/checks", (string ns, string name, int? limit) =>
        {
            if (Limit(limit) is not { } n) return BadLimit();
            return Find(store, ns, name) is { } c
                ? Json(store.Checks(c.Key, n).Select(k => new CheckView(k.Id, k.Time, k.Kind, k.Name, k.Value, k.Min, k.Max, k.Result, k.Message, k.Details)))
                : NotFound(ns, name);
        });
        api.MapGet("/events", (string? canary, long? after, int? limit) =>
        {
            if (Limit(limit) is not { } n) return BadLimit();
            string? key = null;
            if (canary is { Length: > 0 })
            {
                var slash = canary.IndexOf('/', StringComparison.Ordinal);
                if (slash <= 0 || slash == canary.Length - 1)
                    return Results.Json(new { error = $"canary '{canary}' is not NAMESPACE/NAME" }, statusCode: 400);
                var (ns, name) = (canary[..slash], canary[(slash + 1)..]);
                if (Find(store, ns, name) is not { } c) return NotFound(ns, name);
                key = c.Key;
            }
            return Json(store.Events(key, after ?? 0, n).Select(e => new EventView(e.Id, e.Canary, e.Time, e.Type, e.Reason, e.Message)));
        });
    }

    private static CanaryView View(CanaryRecord c) => new(c.Key, c.Namespace, c.Name, c.Status, c.UpdatedAt);

    private static CanaryRecord? Find(StateStore store, string ns, string name) =>
        store.ListCanaries().FirstOrDefault(c => c.Namespace == ns && c.Name == name);

    private static int? Limit(int? limit) => limit switch
    {
        null => MaxLimit,
        >= 1 and <= MaxLimit => limit,
        _ => null,
    };

    private static IResult Json(object value) => Results.Json(value, ModelJson.Options);

    private static IResult NotFound(string ns, string name) =>
        Results.Json(new { error = $"canary {ns}/{name} not found" }, statusCode: 404);

    private static IResult BadLimit() =>
        Results.Json(new { error = $"limit must be between 1 and {MaxLimit}" }, statusCode: 400);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>skipper</c>, as Flagger's Skipper router: the Ingress of <c>spec.ingressRef</c> stays as it is, and a copy
/// named <c>&lt;ingress&gt;-canary</c> (owned by the Canary, with the Ingress' labels and annotations) has every path to the
/// apex service twice, once to <c>&lt;svc&gt;-primary</c> and once to <c>&lt;svc&gt;-canary</c>. Skipper weighs the two by the
/// annotation <c>zalando.org/backend-weights</c> (a JSON object of service to weight), and the annotation
/// <c>zalando.org/skipper-predicate</c> starts with <c>Weight(100)</c> so the copy wins over the user's route — or with
/// <c>False()</c> while the canary takes nothing, which turns the copy off and leaves the user's route (the apex service)
/// in charge. The user's own predicates follow, joined with <c>&amp;&amp;</c>. The copy goes with the Canary.
/// Weights only: A/B testing, mirroring and session affinity are refused (see <see cref="RouterCapabilities"/>).
/// Reconciling keeps the weights (Flagger resets them to 100/0 when the Ingress changed).
/// </summary>
public sealed class SkipperRouter : IKubeRouter
{
    /// <summary>Skipper's annotation of backend weights.</summary>
    public const string BackendWeightsKey = "zalando.org/backend-weights";

    /// <summary>Skipper's annotation of route predicates.</summary>
    public const string PredicateKey = "zalando.org/skipper-predicate";

    private const string Prefer = "Weight(100)";
    private const string Disable = "False()";

    private readonly RoutedObjects _ingresses;
    private readonly ILogger _logger;

    public SkipperRouter(KubeClient client, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _logger = logger ?? NullLogger.Instance;
        _ingresses = new RoutedObjects(client, KubeResources.Ingresses, _logger);
    }

    public string Provider => Providers.Skipper;

    private static string? IngressName(CanaryPolicy canary) => canary.Manifest.Spec.IngressRef?.Name is { Length: > 0 } name ? name : null;

    private static string Unnamed(CanaryPolicy canary) => $"cannot route {canary.Id}: ingress selector is empty (spec.ingressRef)";

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (RouterCapabilities.Refusal(canary, Provider) is { } refused) return Outcome.Fail(refused);
        if (IngressName(canary) is not { } name) return Outcome.Fail(Unnamed(canary));
        var main = await _ingresses.RequireAsync(canary.Namespace, name, cancellationToken).ConfigureAwait(false);
        if (!main.Succeeded) return Outcome.Fail(main.Error!);
        if (main.Value!["spec"]?.DeepClone() is not JsonObject spec || !SplitApexPaths(spec, canary.ServiceName))
            return Outcome.Fail($"backend {canary.ServiceName} not found in ingress {name}");
        var (labels, inherited) = RoutingJson.UserMetadata(main.Value!, k => k == BackendWeightsKey);
        var userPredicate = inherited.GetValueOrDefault(PredicateKey);
        return await _ingresses.ApplyAsync(canary.Namespace, name + "-canary", create: true, current =>
        {
            // A new copy starts with everything on the primary (and preferred, as Flagger creates it); an existing one
            // keeps its weights and whether it is on.
            var annotations = new Dictionary<string, string>(inherited, StringComparer.Ordinal);
            if (current is null)
            {
                annotations[BackendWeightsKey] = WeightsJson(canary, RouteWeights.AllPrimary);
                annotations[PredicateKey] = Predicate(userPredicate, Prefer);
            }
            else
            {
                annotations.Remove(PredicateKey);
                var currentPredicate = RoutingJson.Annotation(current, PredicateKey);
                annotations[PredicateKey] = Predicate(userPredicate, currentPredicate?.Contains(Disable, StringComparison.Ordinal) == true ? Disable : Prefer);
            }
            return RoutingJson.Desire(_ingresses.Type, name + "-canary", canary, current, spec, labels, annotations);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (IngressName(canary) is not { } name) return Outcome<RouteWeights>.Fail(Unnamed(canary));
        var got = await _ingresses.RequireAsync(canary.Namespace, name + "-canary", cancellationToken).ConfigureAwait(false);
        if (!got.Succeeded) return Outcome<RouteWeights>.Fail(got.Error!);
        var where = $"ingress {name}-canary.{canary.Namespace}";
        if (RoutingJson.Annotation(got.Value!, BackendWeightsKey) is not { } text)
            return Outcome<RouteWeights>.Fail($"{where} has no annotation {BackendWeightsKey}");
        Dictionary<string, int>? weights;
        try
        {
            weights = JsonSerializer.Deserialize<Dictionary<string, int>>(text);
        }
        catch (JsonException e)
        {
            return Outcome<RouteWeights>.Fail($"{where} get backendWeights error: {e.Message}");
        }
        var (primary, canaryService) = (canary.ServiceName + "-primary", canary.ServiceName + "-canary");
        if (weights is null || !weights.TryGetValue(primary, out var p)) return Outcome<RouteWeights>.Fail($"{where} has no weight for {primary} in {BackendWeightsKey}");
        if (!weights.TryGetValue(canaryService, out var c)) return Outcome<RouteWeights>.Fail($"{where} has no weight for {canaryService} in {BackendWeightsKey}");
        return new RouteWeights(p, c);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider, weights.Mirrored) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        if (IngressName(canary) is not { } name) return Outcome.Fail(Unnamed(canary));
        var result = await _ingresses.ApplyAsync(canary.Namespace, name + "-canary", create: false, current =>
        {
            var next = (JsonObject)current!.DeepClone();
            var metadata = (JsonObject)next["metadata"]!;
            var annotations = metadata["annotations"] as JsonObject ?? [];
            metadata["annotations"] = annotations;
            var wanted = new Dictionary<string, string>
            {
                [BackendWeightsKey] = WeightsJson(canary, weights),
                // Off while the canary takes nothing: the user's route sends everything to the apex (the primary).
                [PredicateKey] = Predicate(RoutingJson.Text(annotations[PredicateKey]), weights.Canary == 0 ? Disable : Prefer),
            };
            var changed = false;
            foreach (var (key, value) in wanted)
            {
                if (RoutingJson.Text(annotations[key]) == value) continue;
                annotations[key] = value;
                changed = true;
            }
            return changed ? next : null;
        }, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, _ingresses.Kind, name + "-canary", canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>
    /// Turns the copy off with everything on the primary; the copy itself goes with the Canary (owner reference), where
    /// Flagger deletes it at once — either way the user's Ingress routes to the apex service again.
    /// </summary>
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    /// <summary>Skipper's weights: a JSON object with the primary and canary services, keys in order (as Flagger's encoder writes them).</summary>
    private static string WeightsJson(CanaryPolicy canary, RouteWeights weights) =>
        new JsonObject
        {
            [canary.ServiceName + "-canary"] = weights.Canary,
            [canary.ServiceName + "-primary"] = weights.Primary,
        }.ToJsonString();

    /// <summary><paramref name="first"/>, then the predicates of <paramref name="raw"/> other than the router's own, joined with <c>&amp;&amp;</c>.</summary>
    private static string Predicate(string? raw, string first) =>
        string.Join(" && ", new[] { first }.Concat((raw ?? "").Split("&&").Select(p => p.Trim()).Where(p => p.Length > 0 && p != Prefer && p != Disable)));

    /// <summary>Points every path of the apex service at the primary and appends the same path to the canary (Flagger's order).</summary>
    private static bool SplitApexPaths(JsonObject spec, string apex)
    {
        var found = false;
        foreach (var rule in (spec["rules"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (rule["http"]?["paths"] is not JsonArray paths) continue;
            var copies = new List<JsonObject>();
            foreach (var path in paths.OfType<JsonObject>())
            {
                if (path["backend"]?["service"] is not JsonObject service || RoutingJson.Text(service["name"]) != apex) continue;
                service["name"] = apex + "-primary";
                var copy = (JsonObject)path.DeepClone();
                copy["backend"]!["service"]!["name"] = apex + "-canary";
                copies.Add(copy);
                found = true;
            }
            foreach (var copy in copies) paths.Add(copy);
        }
        return found;
    }
}

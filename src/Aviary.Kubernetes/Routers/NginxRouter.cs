using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// Provider <c>nginx</c>: the NGINX ingress controller's canary ingress, as Flagger writes it. The Ingress of
/// <c>spec.ingressRef</c> is cloned to <c>&lt;ingress&gt;-canary</c> (owned by the Canary, its labels and its
/// annotations except kubectl's and the canary ones), with every backend of the apex service pointed at
/// <c>&lt;svc&gt;-canary</c>. The weights live in its annotations (prefix <see cref="KubeRouterOptions.IngressAnnotationsPrefix"/>):
/// <c>canary: "true"</c> and <c>canary-weight</c>; A/B testing writes <c>canary-by-header</c> with
/// <c>canary-by-header-value</c> (exact) or <c>canary-by-header-pattern</c> (regex, prefix or suffix), and
/// <c>canary-by-cookie</c> for a match on the header <c>cookie</c>. NGINX routes by one header and one cookie at most;
/// query parameters, source labels, mirroring and session affinity are answered with a failed <see cref="Outcome"/>.
/// </summary>
public sealed class NginxRouter : IKubeRouter
{
    private readonly RoutedObjects _ingresses;
    private readonly string _prefix;
    private readonly ILogger _logger;

    public NginxRouter(KubeClient client, string annotationsPrefix = KubeRouterOptions.DefaultIngressAnnotationsPrefix, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(annotationsPrefix);
        _prefix = annotationsPrefix.TrimEnd('/');
        _logger = logger ?? NullLogger.Instance;
        _ingresses = new RoutedObjects(client, KubeResources.Ingresses, _logger);
    }

    public string Provider => "nginx";

    private string CanaryKey => _prefix + "/canary";

    private string WeightKey => _prefix + "/canary-weight";

    private string HeaderKey => _prefix + "/canary-by-header";

    private string HeaderValueKey => _prefix + "/canary-by-header-value";

    private string HeaderPatternKey => _prefix + "/canary-by-header-pattern";

    private string CookieKey => _prefix + "/canary-by-cookie";

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider) ?? Headers(canary).Error) is { } error) return Outcome.Fail(error);
        if (canary.Manifest.Spec.IngressRef is not { Name.Length: > 0 } reference)
            return Outcome.Fail($"cannot route {canary.Id}: ingress selector is empty (spec.ingressRef)");
        var main = await _ingresses.RequireAsync(canary.Namespace, reference.Name, cancellationToken).ConfigureAwait(false);
        if (!main.Succeeded) return Outcome.Fail(main.Error!);
        var ingress = main.Value!;
        if (ingress["spec"]?.DeepClone() is not JsonObject spec)
            return Outcome.Fail($"ingress {reference.Name}.{canary.Namespace} has no spec");
        if (!PointAtCanary(spec, canary.ServiceName))
            return Outcome.Fail($"backend {canary.ServiceName} not found in ingress {reference.Name}");

        var (labels, inherited) = RoutingJson.UserMetadata(ingress, IsCanaryKey);
        var name = CanaryIngress(reference.Name);
        return await _ingresses.ApplyAsync(canary.Namespace, name, create: true, current =>
        {
            // A new canary ingress starts at weight 0; an existing one keeps its canary annotations.
            var annotations = current is null
                ? RoutingJson.Merge(inherited, RoutingJson.FluxOptOut, new Dictionary<string, string> { [CanaryKey] = "true", [WeightKey] = "0" })
                : RoutingJson.Merge(RoutingJson.FluxOptOut);
            return RoutingJson.Desire(_ingresses.Type, name, canary, current, spec, labels, annotations);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (canary.Manifest.Spec.IngressRef is not { Name.Length: > 0 } reference)
            return Outcome<RouteWeights>.Fail($"cannot route {canary.Id}: ingress selector is empty (spec.ingressRef)");
        var name = CanaryIngress(reference.Name);
        var got = await _ingresses.RequireAsync(canary.Namespace, name, cancellationToken).ConfigureAwait(false);
        if (!got.Succeeded) return Outcome<RouteWeights>.Fail(got.Error!);
        var ingress = got.Value!;
        // A/B testing: matched requests go to the canary while a header or cookie rule is set.
        if (canary.Match.Count > 0 && (RoutingJson.Annotation(ingress, HeaderKey) is not null || RoutingJson.Annotation(ingress, CookieKey) is not null))
            return new RouteWeights(0, 100);
        var weight = 0;
        if (RoutingJson.Annotation(ingress, WeightKey) is { } text
            && !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out weight))
            return Outcome<RouteWeights>.Fail($"failed to convert {text} to int (annotation {WeightKey} of ingress {name}.{canary.Namespace})");
        if (weight is < 0 or > 100)
            return Outcome<RouteWeights>.Fail($"annotation {WeightKey} of ingress {name}.{canary.Namespace} is out of range: {weight}");
        return new RouteWeights(100 - weight, weight);
    }

    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if ((RouterCapabilities.Refusal(canary, Provider, weights.Mirrored) ?? RouterChecks.InvalidWeights(canary, weights)) is { } error) return Outcome.Fail(error);
        var headers = Headers(canary);
        if (headers.Error is not null) return Outcome.Fail(headers.Error);
        if (canary.Manifest.Spec.IngressRef is not { Name.Length: > 0 } reference)
            return Outcome.Fail($"cannot route {canary.Id}: ingress selector is empty (spec.ingressRef)");

        var wanted = new Dictionary<string, string>(StringComparer.Ordinal) { [CanaryKey] = "true" };
        if (canary.Match.Count > 0 && weights.Canary > 0)
        {
            // Unmatched requests stay on the primary.
            wanted[WeightKey] = "0";
            if (headers.Value.Cookie is { } cookie) wanted[CookieKey] = cookie;
            if (headers.Value.Header is { } header) wanted[HeaderKey] = header;
            if (headers.Value.Exact is { } exact) wanted[HeaderValueKey] = exact;
            if (headers.Value.Pattern is { } pattern) wanted[HeaderPatternKey] = pattern;
        }
        else
        {
            wanted[WeightKey] = canary.Match.Count > 0 ? "0" : weights.Canary.ToString(CultureInfo.InvariantCulture);
        }

        var name = CanaryIngress(reference.Name);
        var result = await _ingresses.ApplyAsync(canary.Namespace, name, create: false, current =>
        {
            var next = (JsonObject)current!.DeepClone();
            var metadata = (JsonObject)next["metadata"]!;
            var annotations = metadata["annotations"] as JsonObject ?? [];
            metadata["annotations"] = annotations;
            var changed = false;
            foreach (var key in annotations.Select(kv => kv.Key).Where(k => IsCanaryKey(k) && !wanted.ContainsKey(k)).ToList())
                changed |= annotations.Remove(key);
            foreach (var (key, value) in wanted)
            {
                if (RoutingJson.Text(annotations[key]) == value) continue;
                annotations[key] = value;
                changed = true;
            }
            return changed ? next : null;
        }, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) KubeRouterLog.Routed(_logger, _ingresses.Kind, name, canary.Namespace, weights.ToString());
        return result;
    }

    /// <summary>Sets the canary ingress to weight 0 without header or cookie rules; the ingress itself goes with the Canary (owner reference).</summary>
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    private static string CanaryIngress(string ingress) => ingress + "-canary";

    private bool IsCanaryKey(string key) => key == CanaryKey || key.StartsWith(CanaryKey + "-", StringComparison.Ordinal);

    /// <summary>Points every backend of the apex service (rules and the default backend) at the canary service.</summary>
    private static bool PointAtCanary(JsonObject spec, string apex)
    {
        var found = false;
        void Rewrite(JsonNode? backend)
        {
            if (backend?["service"] is JsonObject service && RoutingJson.Text(service["name"]) == apex)
            {
                service["name"] = apex + "-canary";
                found = true;
            }
        }
        Rewrite(spec["defaultBackend"]);
        foreach (var rule in (spec["rules"] as JsonArray ?? []).OfType<JsonObject>())
        {
            foreach (var path in (rule["http"]?["paths"] as JsonArray ?? []).OfType<JsonObject>()) Rewrite(path["backend"]);
        }
        return found;
    }

    private readonly record struct HeaderRule(string? Header, string? Exact, string? Pattern, string? Cookie);

    /// <summary>The one header and one cookie NGINX can route by, from <c>analysis.match</c>.</summary>
    private (HeaderRule Value, string? Error) Headers(CanaryPolicy canary)
    {
        string? header = null, exact = null, pattern = null, cookie = null;
        foreach (var match in canary.Match)
        {
            if (match.QueryParams is { Count: > 0 } || match.SourceLabels is { Count: > 0 })
                return (default, $"cannot route {canary.Id}: A/B testing by query parameters or source labels (analysis.match) is not supported by the nginx router");
            foreach (var (name, value) in match.Headers ?? new Dictionary<string, Core.Model.HeaderMatch>())
            {
                if (name.Equals("cookie", StringComparison.OrdinalIgnoreCase))
                {
                    if (string.IsNullOrEmpty(value.Exact))
                        return (default, $"cannot route {canary.Id}: the nginx router matches a cookie by its exact name only (analysis.match.headers.cookie.exact)");
                    if (cookie is not null && cookie != value.Exact)
                        return (default, $"cannot route {canary.Id}: A/B testing by more than one cookie is not supported by the nginx router");
                    cookie = value.Exact;
                    continue;
                }
                if (header is not null && !header.Equals(name, StringComparison.OrdinalIgnoreCase))
                    return (default, $"cannot route {canary.Id}: A/B testing by more than one header ({header}, {name}) is not supported by the nginx router");
                header = name;
                (exact, pattern) = !string.IsNullOrEmpty(value.Exact) ? ((string?)value.Exact, (string?)null)
                    : !string.IsNullOrEmpty(value.Regex) ? (null, value.Regex)
                    : !string.IsNullOrEmpty(value.Prefix) ? (null, "^" + RoutingJson.PrefixRegex(value.Prefix))
                    : !string.IsNullOrEmpty(value.Suffix) ? (null, RoutingJson.SuffixRegex(value.Suffix) + "$")
                    : (null, null);
            }
        }
        return (new HeaderRule(header, exact, pattern, cookie), null);
    }
}

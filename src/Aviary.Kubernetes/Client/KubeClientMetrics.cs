using System.Collections.Concurrent;
using Aviary.Core.Observability;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// What a <see cref="KubeClient"/> asked of the API server: requests by verb (GET, LIST, WATCH, POST, PUT, PATCH,
/// DELETE), resource (with its subresource, e.g. <c>canaries/status</c>) and status code (0: no answer), and how
/// long requests waited on the client-side rate limiter.
/// </summary>
public sealed class KubeClientMetrics
{
    private readonly ConcurrentDictionary<(string Verb, string Resource, int Code), long> _requests = new();

    public Histogram RateLimiterWait { get; } = new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);

    /// <summary>A snapshot of the request counts.</summary>
    public IReadOnlyDictionary<(string Verb, string Resource, int Code), long> Requests => new Dictionary<(string, string, int), long>(_requests);

    /// <summary>Requests whose verb is one of <paramref name="verbs"/> (all when empty), of resources starting with <paramref name="resource"/> (all when null).</summary>
    public long Count(string? resource = null, params string[] verbs) =>
        _requests.Where(r => (verbs.Length == 0 || verbs.Contains(r.Key.Verb)) && (resource is null || r.Key.Resource.StartsWith(resource, StringComparison.Ordinal)))
            .Sum(r => r.Value);

    /// <summary>Writes (POST, PUT, PATCH, DELETE).</summary>
    public long Writes(string? resource = null) => Count(resource, "POST", "PUT", "PATCH", "DELETE");

    /// <summary>Reads (GET, LIST; watches counted once per connection as WATCH are not included).</summary>
    public long Reads(string? resource = null) => Count(resource, "GET", "LIST");

    internal void Request(HttpMethod method, string pathAndQuery, int code)
    {
        var (verb, resource) = Describe(method, pathAndQuery);
        _requests.AddOrUpdate((verb, resource, code), 1, (_, n) => n + 1);
    }

    /// <summary>Writes the families (aviary_kube_requests_total, aviary_kube_rate_limiter_wait_seconds).</summary>
    public void Write(PrometheusWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Family("aviary_kube_requests_total", "counter", "Requests to the Kubernetes API server by verb, resource and status code (0: no answer).");
        foreach (var ((verb, resource, code), count) in _requests.OrderBy(r => r.Key.Resource, StringComparer.Ordinal).ThenBy(r => r.Key.Verb, StringComparer.Ordinal))
            writer.Sample("aviary_kube_requests_total", count, ("verb", verb), ("resource", resource), ("code", code.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        writer.Family("aviary_kube_rate_limiter_wait_seconds", "histogram", "Time requests waited on the client-side rate limiter (--kube-api-qps, --kube-api-burst).");
        RateLimiterWait.Write(writer, "aviary_kube_rate_limiter_wait_seconds");
    }

    /// <summary>The verb and resource of a request path: <c>/apis/g/v/namespaces/n/r/name/status?…</c> is r/status.</summary>
    internal static (string Verb, string Resource) Describe(HttpMethod method, string pathAndQuery)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? pathAndQuery : pathAndQuery[..q];
        var query = q < 0 ? "" : pathAndQuery[q..];
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        // api/v1/… or apis/group/version/…
        var i = parts.Length > 0 && parts[0] == "api" ? 2 : parts.Length > 0 && parts[0] == "apis" ? 3 : parts.Length;
        if (i + 1 < parts.Length && parts[i] == "namespaces" && parts.Length > i + 2) i += 2;
        var rest = i < parts.Length ? parts[i..] : [];
        var resource = rest.Length switch
        {
            0 => path,
            1 or 2 => rest[0],
            _ => rest[0] + "/" + rest[2],
        };
        var verb = method == HttpMethod.Get
            ? query.Contains("watch=true", StringComparison.Ordinal) ? "WATCH" : rest.Length == 1 ? "LIST" : "GET"
            : method.Method;
        return (verb, resource);
    }
}

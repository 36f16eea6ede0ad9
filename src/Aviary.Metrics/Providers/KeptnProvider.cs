using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: keptn</c>, as Flagger's Keptn provider: the data lives in the cluster, read through the Kubernetes runtime's
/// API client (<see cref="IClusterObjects"/>). The query is <c>&lt;keptnmetric|analysis&gt;/&lt;namespace&gt;/&lt;name&gt;[/&lt;duration&gt;[/&lt;k=v;…&gt;]]</c>:
/// <list type="bullet">
/// <item><c>keptnmetric</c> (or <c>keptnmetrics</c>) reads the KeptnMetric's <c>status.value</c> (<c>metrics.keptn.sh/v1beta1</c>);
/// a KeptnMetric without a value yet is no data.</item>
/// <item><c>analysis</c> (or <c>analyses</c>) creates an Analysis of that AnalysisDefinition over the recent
/// <c>duration</c> (default <c>1m</c>) with the arguments, checks it every second until Keptn marks it
/// <c>Completed</c> — 1 when it passed, 0 when not — for at most 10 s, and deletes it afterwards.</item>
/// </list>
/// The kind is case-insensitive; unlike Flagger, which lowercases the whole query, names, the duration and argument
/// values are used as written. <see cref="IsOnlineAsync"/> is always online, as Flagger's.
/// </summary>
internal sealed class KeptnProvider(IClusterObjects cluster, TimeProvider time) : IMetricQueryProvider
{
    public const string TypeName = "keptn";

    public static readonly ClusterResource KeptnMetrics = new("metrics.keptn.sh/v1beta1", "KeptnMetric", "keptnmetrics");

    public static readonly ClusterResource Analyses = new("metrics.keptn.sh/v1beta1", "Analysis", "analyses");

    /// <summary>How long an Analysis may take (Flagger's).</summary>
    public static readonly TimeSpan AnalysisTimeout = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private const string Format = "<keptnmetric|analysis>/<namespace>/<name>[/<duration>[/<key=value;…>]]";

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context) => context.Cluster is { } cluster
        ? new KeptnProvider(cluster, context.Time)
        : Outcome<IMetricQueryProvider>.Fail($"{TypeName} reads KeptnMetrics and Analyses from the cluster: it needs the Kubernetes runtime (aviary operator)");

    /// <summary>A parsed query.</summary>
    internal sealed record Query(bool Analysis, string Namespace, string Name, string Duration, IReadOnlyDictionary<string, string> Arguments);

    internal static Outcome<Query> Parse(string text)
    {
        var parts = text.Trim().Split('/');
        if (parts.Length < 3 || parts[1].Length == 0 || parts[2].Length == 0)
            return Outcome<Query>.Fail($"{TypeName} query '{text.Trim()}' is not in the format {Format}");
        bool analysis;
        switch (parts[0].ToLowerInvariant())
        {
            case "keptnmetric" or "keptnmetrics": analysis = false; break;
            case "analysis" or "analyses": analysis = true; break;
            default: return Outcome<Query>.Fail($"{TypeName} query kind '{parts[0]}' must be one of: keptnmetric, analysis");
        }
        var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
        if (parts.Length >= 5)
        {
            foreach (var pair in parts[4].Split(';'))
            {
                var kv = pair.Split('=');
                if (kv.Length == 2) arguments[kv[0]] = kv[1];
            }
        }
        return new Query(analysis, parts[1], parts[2], parts.Length >= 4 && parts[3].Length > 0 ? parts[3] : "1m", arguments);
    }

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var parsed = Parse(query);
        if (!parsed.Succeeded) return QueryResult.Failed(parsed.Error!);
        return parsed.Value!.Analysis
            ? await AnalysisAsync(parsed.Value!, cancellationToken).ConfigureAwait(false)
            : await KeptnMetricAsync(parsed.Value!, cancellationToken).ConfigureAwait(false);
    }

    private async Task<QueryResult> KeptnMetricAsync(Query query, CancellationToken cancellationToken)
    {
        var got = await cluster.GetAsync(KeptnMetrics, query.Namespace, query.Name, cancellationToken).ConfigureAwait(false);
        var id = $"{query.Namespace}/{query.Name}";
        if (!got.Succeeded) return QueryResult.Failed($"could not retrieve KeptnMetric {id}: {got.Error}");
        if (got.Value is not { } metric) return QueryResult.Failed($"could not retrieve KeptnMetric {id}: not found");
        if (metric["status"]?["value"] is not JsonValue value || value.GetValueKind() != System.Text.Json.JsonValueKind.String)
            return QueryResult.NoData($"KeptnMetric {id} has no value yet");
        return double.TryParse(value.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? QueryResult.Of(number)
            : QueryResult.Failed($"could not parse value of KeptnMetric {id} to float: '{value.GetValue<string>()}'");
    }

    private async Task<QueryResult> AnalysisAsync(Query query, CancellationToken cancellationToken)
    {
        var id = $"{query.Namespace}/{query.Name}";
        var args = new JsonObject();
        foreach (var (k, v) in query.Arguments) args[k] = v;
        var analysis = new JsonObject
        {
            ["apiVersion"] = Analyses.ApiVersion,
            ["kind"] = Analyses.Kind,
            ["metadata"] = new JsonObject { ["name"] = $"{query.Name}-{Guid.NewGuid().ToString("N")[..6]}", ["namespace"] = query.Namespace },
            ["spec"] = new JsonObject
            {
                ["analysisDefinition"] = new JsonObject { ["name"] = query.Name },
                ["timeframe"] = new JsonObject { ["recent"] = query.Duration },
                ["args"] = args,
            },
        };
        var created = await cluster.CreateAsync(Analyses, query.Namespace, analysis, cancellationToken).ConfigureAwait(false);
        if (!created.Succeeded) return QueryResult.Failed($"could not create Keptn Analysis {id}: {created.Error}");
        var name = created.Value!["metadata"]?["name"]?.GetValue<string>() ?? analysis["metadata"]!["name"]!.GetValue<string>();
        try
        {
            var deadline = time.GetUtcNow() + AnalysisTimeout;
            while (true)
            {
                await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
                var got = await cluster.GetAsync(Analyses, query.Namespace, name, cancellationToken).ConfigureAwait(false);
                if (!got.Succeeded || got.Value is null)
                    return QueryResult.Failed($"could not check status of created Keptn Analysis {id}: {(got.Succeeded ? "it was deleted" : got.Error)}");
                var status = got.Value["status"];
                if (status?["state"]?.GetValue<string>() == "Completed" && status["pass"] is JsonValue pass)
                    return QueryResult.Of(pass.GetValue<bool>() ? 1 : 0);
                if (time.GetUtcNow() >= deadline)
                    return QueryResult.Failed($"encountered timeout while waiting for Keptn Analysis {id} to be finished (state: {status?["state"]?.GetValue<string>() ?? "none"})");
            }
        }
        finally
        {
            await cluster.DeleteAsync(Analyses, query.Namespace, name, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    public void Dispose()
    {
    }
}

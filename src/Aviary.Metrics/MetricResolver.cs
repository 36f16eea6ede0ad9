using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;
using Aviary.Metrics.Observers;
using Aviary.Metrics.Prometheus;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Templates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Metrics;

/// <summary>
/// The metric provider of the runtimes: sends each metric of a canary where Flagger would.
/// <list type="bullet">
/// <item><c>templateRef</c>: the MetricTemplate (its namespace defaults to the canary's), its secret, its provider
/// (<c>spec.provider.type</c>), the query rendered with the canary's model and the metric's variables.</item>
/// <item>an inline <c>query</c>: rendered the same way and run on the canary's metrics server (an error when there is none).</item>
/// <item><c>request-success-rate</c> and <c>request-duration</c>: with a metrics server (<c>spec.metricsServer</c>, else
/// <see cref="MetricResolverOptions.DefaultMetricsServer"/>), the provider's built-in query (<see cref="ObserverQueries.For"/>)
/// on it; without one, the fallback provider (the router's own counters).</item>
/// </list>
/// Every failure — a missing template, a render error, an unknown provider, a failed query — is a
/// <see cref="MetricSample"/> error that says which template or query and why. Providers and clients are cached per
/// template and address, and rebuilt when the template's provider or its credentials change. Thread-safe.
/// </summary>
public sealed partial class MetricResolver : IMetricProvider, IArmCounters, IDisposable
{
    /// <summary>The source of inline queries.</summary>
    public const string PrometheusSource = "prometheus";

    private readonly MetricResolverOptions _options;
    private readonly IMetricProvider _fallback;
    private readonly MetricTemplateLookup _templates;
    private readonly ISecretSource _secrets;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<MetricProviderContext, Outcome<IMetricQueryProvider>> _createProvider;
    private readonly Dictionary<string, (string Fingerprint, IMetricQueryProvider Provider)> _cache = new(StringComparer.Ordinal);

    // Providers replaced after a template changed; another query may still be using one, so they live until Dispose.
    private readonly List<IMetricQueryProvider> _retired = [];
    private bool _disposed;

    /// <param name="options">The runtime's metrics server and default provider.</param>
    /// <param name="fallback">Built-in metrics when there is no metrics server (the router's counters).</param>
    /// <param name="templates">Finds MetricTemplates.</param>
    /// <param name="secrets">Finds the secrets of MetricTemplates.</param>
    public MetricResolver(MetricResolverOptions options, IMetricProvider fallback, MetricTemplateLookup templates, ISecretSource secrets,
        TimeProvider timeProvider, ILogger<MetricResolver>? logger = null)
        : this(options, fallback, templates, secrets, timeProvider, logger, MetricProviders.Create)
    {
    }

    internal MetricResolver(MetricResolverOptions options, IMetricProvider fallback, MetricTemplateLookup templates, ISecretSource secrets,
        TimeProvider timeProvider, ILogger? logger, Func<MetricProviderContext, Outcome<IMetricQueryProvider>> createProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(templates);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (options.DefaultMetricsServer is { } server && (!server.IsAbsoluteUri || server.Scheme is not ("http" or "https")))
            throw new ArgumentException($"the default metrics server must be an absolute http or https URL (got {server})", nameof(options));
        if (options.QueryTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.QueryTimeout, "The query timeout must be positive.");
        _options = options;
        _fallback = fallback;
        _templates = templates;
        _secrets = secrets;
        _time = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        _createProvider = createProvider;
    }

    public async ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(metric);
        if (metric.TemplateRef is { } reference) return await TemplateAsync(canary, metric, reference, cancellationToken).ConfigureAwait(false);
        if (metric.Query is { } query) return await InlineAsync(canary, metric, query, cancellationToken).ConfigureAwait(false);
        if (metric.IsBuiltin) return await BuiltinAsync(canary, metric, cancellationToken).ConfigureAwait(false);
        return MetricSample.Failed($"metric {metric.Name} has no templateRef or query, and is not a built-in metric", PrometheusSource);
    }

    /// <summary>
    /// Flagger's check when a canary is initialized: the metrics server answers (when a built-in metric or an
    /// inline query needs it), and every MetricTemplate, its secret and its provider resolve and answer.
    /// </summary>
    public async ValueTask<Outcome> CheckProvidersAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var serverChecked = false;
        foreach (var metric in canary.Metrics)
        {
            if (metric.TemplateRef is { } reference)
            {
                // A template's provider is checked when it is first built; a cached one is asked again.
                var (provider, id, error, fresh) = await TemplateProviderAsync(canary, metric, reference, cancellationToken).ConfigureAwait(false);
                if (provider is null) return Outcome.Fail(error!);
                if (fresh) continue;
                var online = await provider.IsOnlineAsync(cancellationToken).ConfigureAwait(false);
                if (!online.Succeeded) return Outcome.Fail($"{provider.Type} in metric template {id} not available: {online.Error}");
            }
            else if (!serverChecked && (metric.Query is not null || metric.IsBuiltin))
            {
                var server = MetricsServerOf(canary);
                if (!server.Succeeded) return Outcome.Fail(server.Error!);
                if (server.Value is null)
                {
                    if (metric.Query is not null) return Outcome.Fail(NoServer(metric));
                    continue;
                }
                serverChecked = true;
                var online = await ServerProvider(server.Value).IsOnlineAsync(cancellationToken).ConfigureAwait(false);
                if (!online.Succeeded) return Outcome.Fail($"prometheus not available: {online.Error}");
            }
        }
        return Outcome.Ok;
    }

    private async ValueTask<MetricSample> TemplateAsync(CanaryPolicy canary, MetricCheck metric, NamedReference reference, CancellationToken ct)
    {
        var @namespace = TemplateNamespace(canary, reference);
        var id = $"{reference.Name}.{@namespace}";
        var template = await _templates(@namespace, reference.Name, ct).ConfigureAwait(false);
        if (template is null) return MetricSample.Failed($"metric template {id} not found", PrometheusSource);
        var source = template.Spec.Provider.Type;
        var (provider, _, error, _) = await TemplateProviderAsync(canary, metric, reference, ct, template).ConfigureAwait(false);
        if (provider is null) return MetricSample.Failed(error!, source);
        var model = await ModelAsync(canary, metric, ct).ConfigureAwait(false);
        if (!model.Succeeded) return MetricSample.Failed($"metric template {id}: {model.Error}", source);
        var query = QueryTemplate.Render(template.Spec.Query, model.Value!);
        if (!query.Succeeded) return MetricSample.Failed($"metric template {id}: {query.Error}", source);
        Log.TemplateQuery(_logger, id, canary.Id, query.Value!);
        var result = await provider.RunQueryAsync(query.Value!, ct).ConfigureAwait(false);
        return result.ToSample(source, prefix: $"metric template {id}: ");
    }

    /// <summary>The provider of a template (built and found online, or from the cache), or an error naming the template.</summary>
    private async ValueTask<(IMetricQueryProvider? Provider, string Id, string? Error, bool Fresh)> TemplateProviderAsync(CanaryPolicy canary, MetricCheck metric,
        NamedReference reference, CancellationToken ct, MetricTemplate? template = null)
    {
        var @namespace = TemplateNamespace(canary, reference);
        var id = $"{reference.Name}.{@namespace}";
        template ??= await _templates(@namespace, reference.Name, ct).ConfigureAwait(false);
        if (template is null) return (null, id, $"metric template {id} not found", false);
        var spec = template.Spec.Provider;

        IReadOnlyDictionary<string, string> credentials = new Dictionary<string, string>();
        if (spec.SecretRef is { } secretRef)
        {
            var secret = await _secrets.GetAsync(@namespace, secretRef.Name, ct).ConfigureAwait(false);
            if (!secret.Succeeded) return (null, id, $"metric template {id}: {secret.Error}", false);
            credentials = secret.Value!;
        }

        var key = $"template {@namespace}/{reference.Name} {spec.Address} {metric.IntervalText}";
        var fingerprint = Fingerprint(spec, credentials);
        lock (_cache)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cache.TryGetValue(key, out var cached) && cached.Fingerprint == fingerprint) return (cached.Provider, id, null, false);
        }
        var context = new MetricProviderContext(spec, credentials, metric.IntervalText, _time) { Timeout = _options.QueryTimeout, Cluster = _options.Cluster };
        var created = _createProvider(context);
        if (!created.Succeeded) return (null, id, $"metric template {id}: {created.Error}", false);
        // First use of this template (or of its changed provider or secret): its backend must answer, as Flagger checks
        // it; an unreachable one is a failed check naming the template, and is checked again next time.
        var online = await created.Value!.IsOnlineAsync(ct).ConfigureAwait(false);
        if (!online.Succeeded)
        {
            created.Value.Dispose();
            return (null, id, $"{created.Value.Type} in metric template {id} not available: {online.Error}", false);
        }
        return (Store(key, fingerprint, created.Value!), id, null, true);
    }

    private async ValueTask<MetricSample> InlineAsync(CanaryPolicy canary, MetricCheck metric, string query, CancellationToken ct)
    {
        var server = MetricsServerOf(canary);
        if (!server.Succeeded) return MetricSample.Failed(server.Error!, PrometheusSource);
        if (server.Value is null) return MetricSample.Failed(NoServer(metric), PrometheusSource);
        var model = await ModelAsync(canary, metric, ct).ConfigureAwait(false);
        if (!model.Succeeded) return MetricSample.Failed($"metric {metric.Name} query: {model.Error}", PrometheusSource);
        var rendered = QueryTemplate.Render(query, model.Value!);
        if (!rendered.Succeeded) return MetricSample.Failed($"metric {metric.Name} query: {rendered.Error}", PrometheusSource);
        Log.Query(_logger, metric.Name, canary.Id, PrometheusClient.SafeAddress(server.Value), rendered.Value!);
        var result = await ServerProvider(server.Value).RunQueryAsync(rendered.Value!, ct).ConfigureAwait(false);
        return result.ToSample(PrometheusSource);
    }

    private async ValueTask<MetricSample> BuiltinAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken ct)
    {
        var provider = canary.Provider.Length > 0 ? canary.Provider : _options.DefaultProvider;
        var server = MetricsServerOf(canary);
        if (!server.Succeeded) return MetricSample.Failed(server.Error!, provider);
        if (server.Value is null) return await _fallback.QueryAsync(canary, metric, ct).ConfigureAwait(false);
        var observer = ObserverQueries.For(provider);
        if (!observer.Succeeded) return MetricSample.Failed(observer.Error!, provider);
        var queries = observer.Value!;
        var model = await ModelAsync(canary, metric, ct).ConfigureAwait(false);
        if (!model.Succeeded) return MetricSample.Failed($"{queries.Provider} {metric.Name} query: {model.Error}", queries.Provider);
        var rendered = queries.Render(metric.Name, model.Value!);
        if (!rendered.Succeeded) return MetricSample.Failed($"{queries.Provider} {metric.Name} query: {rendered.Error}", queries.Provider);
        Log.Query(_logger, metric.Name, canary.Id, PrometheusClient.SafeAddress(server.Value), rendered.Value!);
        var result = await ServerProvider(server.Value).RunQueryAsync(rendered.Value!, ct).ConfigureAwait(false);
        return result.ToSample(queries.Provider, queries.ScaleFor(metric.Name));
    }

    /// <summary>
    /// The judge's per-arm counters from the canary's Prometheus (<see cref="ArmQueries"/>): cumulative requests, 5xx
    /// and slow requests of <c>{{ target }}</c> and <c>{{ target }}-primary</c>. A workload without series yet counts 0.
    /// </summary>
    public async ValueTask<Outcome<ArmCounts>> ReadAsync(CanaryPolicy canary, double slowThresholdMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        var provider = canary.Provider.Length > 0 ? canary.Provider : _options.DefaultProvider;
        var server = MetricsServerOf(canary);
        if (!server.Succeeded) return Outcome<ArmCounts>.Fail(server.Error!);
        if (server.Value is null)
            return Outcome<ArmCounts>.Fail("the judge reads request counts from Prometheus: set spec.metricsServer or the runtime's metrics server");
        var queries = ArmQueries.For(provider);
        if (!queries.Succeeded) return Outcome<ArmCounts>.Fail(queries.Error!);
        var client = ServerProvider(server.Value);
        var bound = queries.Value!.SlowBound(slowThresholdMs);
        var primary = await ArmAsync(client, queries.Value, canary, canary.PrimaryName, canary.ServiceName + "-primary", bound, cancellationToken)
            .ConfigureAwait(false);
        if (!primary.Succeeded) return Outcome<ArmCounts>.Fail(primary.Error!);
        var target = await ArmAsync(client, queries.Value, canary, canary.TargetName, canary.ServiceName + "-canary", bound, cancellationToken)
            .ConfigureAwait(false);
        if (!target.Succeeded) return Outcome<ArmCounts>.Fail(target.Error!);
        return new ArmCounts(primary.Value, target.Value);
    }

    private static readonly ClusterResource Endpoints = new("v1", "Endpoints", "endpoints");

    private async Task<Outcome<ArmSample>> ArmAsync(IMetricQueryProvider client, ArmQueries queries, CanaryPolicy canary, string workload, string backend,
        double bound, CancellationToken ct)
    {
        var ns = canary.Namespace;
        IReadOnlyList<string>? endpoints = null;
        if (queries.ByEndpoints)
        {
            // The version's pods by address, from its Service's Endpoints; without any, it answered nothing yet.
            if (_options.Cluster is not { } cluster)
                return Outcome<ArmSample>.Fail($"the judge reads {queries.Provider}'s counters by pod address, from the cluster's Endpoints: this runtime has no cluster");
            var read = await cluster.GetAsync(Endpoints, ns, backend, ct).ConfigureAwait(false);
            if (!read.Succeeded) return Outcome<ArmSample>.Fail($"{queries.Provider} counters of {workload}.{ns}: Endpoints {backend}: {read.Error}");
            endpoints = [.. (read.Value?["subsets"] as JsonArray ?? []).OfType<JsonObject>()
                .SelectMany(subset => (subset["addresses"] as JsonArray ?? []).OfType<JsonObject>())
                .Select(address => address["ip"] is JsonValue ip && ip.TryGetValue<string>(out var text) ? text : null)
                .OfType<string>().Distinct()];
            if (endpoints.Count == 0) return ArmSample.Zero;
        }
        var values = new double[4];
        string[] texts = [queries.RequestsQuery(ns, workload, backend, endpoints), queries.ErrorsQuery(ns, workload, backend, endpoints),
            queries.BucketQuery(ns, workload, backend, null, endpoints), queries.BucketQuery(ns, workload, backend, bound, endpoints)];
        for (var i = 0; i < texts.Length; i++)
        {
            var result = await client.RunQueryAsync(texts[i], ct).ConfigureAwait(false);
            if (result.Kind == QueryResultKind.Error) return Outcome<ArmSample>.Fail($"{queries.Provider} counters of {workload}.{ns}: {result.Message}");
            values[i] = result.HasValue ? result.Value : 0;
        }
        return new ArmSample(values[0], values[1], Math.Max(0, values[2] - values[3]));
    }

    private ValueTask<Outcome<MetricTemplateModel>> ModelAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken ct) =>
        MetricTemplateModel.ForAsync(canary, metric, canary.Provider.Length > 0 ? canary.Provider : _options.DefaultProvider, _options.Cluster,
            _options.RuntimeVariables?.Invoke(canary), ct);

    /// <summary>The canary's Prometheus: <c>spec.metricsServer</c>, else the runtime's; null when neither is set.</summary>
    private Outcome<Uri?> MetricsServerOf(CanaryPolicy canary)
    {
        var text = canary.Manifest.Spec.MetricsServer?.Trim();
        if (string.IsNullOrEmpty(text)) return Outcome<Uri?>.Ok(_options.DefaultMetricsServer);
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? Outcome<Uri?>.Ok(uri)
            : Outcome<Uri?>.Fail($"spec.metricsServer {text} is not a valid URL");
    }

    /// <summary>The client of a metrics server (the runtime's credentials apply to the runtime's server only).</summary>
    private IMetricQueryProvider ServerProvider(Uri address)
    {
        var key = "server " + address.AbsoluteUri;
        lock (_cache)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cache.TryGetValue(key, out var cached)) return cached.Provider;
        }
        var options = new PrometheusClientOptions
        {
            Address = address,
            Timeout = _options.QueryTimeout,
            Auth = address == _options.DefaultMetricsServer ? _options.DefaultMetricsServerAuth : null,
        };
        return Store(key, "", new PrometheusProvider(new PrometheusClient(options, _time)));
    }

    /// <summary>Caches <paramref name="provider"/> unless another thread stored an equal one first (then it is disposed).</summary>
    private IMetricQueryProvider Store(string key, string fingerprint, IMetricQueryProvider provider)
    {
        lock (_cache)
        {
            if (_disposed)
            {
                provider.Dispose();
                throw new ObjectDisposedException(nameof(MetricResolver));
            }
            if (_cache.TryGetValue(key, out var cached))
            {
                if (cached.Fingerprint == fingerprint)
                {
                    provider.Dispose();
                    return cached.Provider;
                }
                _retired.Add(cached.Provider);
            }
            _cache[key] = (fingerprint, provider);
            return provider;
        }
    }

    private static string TemplateNamespace(CanaryPolicy canary, NamedReference reference) =>
        string.IsNullOrEmpty(reference.Namespace) ? canary.Namespace : reference.Namespace;

    private static string NoServer(MetricCheck metric) =>
        $"metric {metric.Name} has a query but no metrics server: set spec.metricsServer (or the runtime's Prometheus address)";

    /// <summary>Everything a provider is built from; credentials only as a hash.</summary>
    private static string Fingerprint(MetricTemplateProvider spec, IReadOnlyDictionary<string, string> credentials)
    {
        var text = new StringBuilder();
        text.Append(spec.Type).Append('\n').Append(spec.Address).Append('\n').Append(spec.Region).Append('\n')
            .Append(spec.InsecureSkipVerify?.ToString(CultureInfo.InvariantCulture)).Append('\n').Append(spec.SecretRef?.Name).Append('\n');
        foreach (var (name, values) in (spec.Headers ?? new Dictionary<string, IReadOnlyList<string>>()).OrderBy(h => h.Key, StringComparer.Ordinal))
            text.Append(name).Append(':').AppendJoin('\u0001', values).Append('\n');
        var secret = new StringBuilder();
        foreach (var (key, value) in credentials.OrderBy(c => c.Key, StringComparer.Ordinal)) secret.Append(key).Append('\0').Append(value).Append('\0');
        text.Append(Hashing.Sha256(secret.ToString()));
        return text.ToString();
    }

    public void Dispose()
    {
        lock (_cache)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var (_, entry) in _cache) entry.Provider.Dispose();
            foreach (var provider in _retired) provider.Dispose();
            _cache.Clear();
            _retired.Clear();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Debug, Message = "Metric template {Template} query for {Canary}: {Query}")]
        public static partial void TemplateQuery(ILogger logger, string template, string canary, string query);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Debug, Message = "Metric {Metric} of {Canary} query on {Server}: {Query}")]
        public static partial void Query(ILogger logger, string metric, string canary, string server, string query);
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Metrics.Prometheus;
using Aviary.Metrics.Providers;
using Aviary.Hooks.Secrets;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests;

/// <summary>Where each kind of metric goes, and how every failure reads, against a stand-in Prometheus.</summary>
public sealed class MetricResolverTests : IAsyncLifetime
{
    private FakePrometheus _prometheus = null!;
    private readonly FakeMetrics _fallback = new();
    private readonly Dictionary<(string Namespace, string Name), MetricTemplate> _templates = [];
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);
    private int _providersCreated;

    public async Task InitializeAsync() => _prometheus = await FakePrometheus.StartAsync();

    public async Task DisposeAsync() => await _prometheus.DisposeAsync();

    private MetricResolver Resolver(MetricResolverOptions? options = null) =>
        new(options ?? new MetricResolverOptions(), _fallback,
            (ns, name, _) => ValueTask.FromResult(_templates.GetValueOrDefault((ns, name))),
            new EnvironmentSecrets(null, name => _environment.GetValueOrDefault(name)), TimeProvider.System, null,
            context =>
            {
                Interlocked.Increment(ref _providersCreated);
                return MetricProviders.Create(context);
            });

    private static CanaryPolicy Canary(string metrics, string extraSpec = "") => SchedulerHarness.Compile(SchedulerHarness.Canary(
        "interval: 30s\nthreshold: 5\nmaxWeight: 50\nstepWeight: 10\nmetrics:\n" + metrics, extraSpec));

    private string Server => $"metricsServer: {_prometheus.Url}";

    private void Template(string name, string query, string ns = "test", string? address = null, string? secret = null, string type = "prometheus") =>
        _templates[(ns, name)] = new MetricTemplate
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns },
            Spec = new MetricTemplateSpec
            {
                Provider = new MetricTemplateProvider
                {
                    Type = type,
                    Address = address ?? _prometheus.Url.ToString(),
                    SecretRef = secret is null ? null : new SecretReference { Name = secret },
                },
                Query = query,
            },
        };

    private static Task<MetricSample> QueryAsync(MetricResolver resolver, CanaryPolicy canary, int metric = 0) =>
        resolver.QueryAsync(canary, canary.Metrics[metric], CancellationToken.None).AsTask();

    private const string SuccessRate = "- name: request-success-rate\n  thresholdRange:\n    min: 99\n  interval: 1m\n";
    private const string Duration = "- name: request-duration\n  thresholdRange:\n    max: 500\n  interval: 30s\n";

    [Fact]
    public async Task QueryAsync_BuiltinWithoutMetricsServer_Fallback()
    {
        _fallback.Set(MetricCheck.RequestSuccessRate, 97.5);
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(SuccessRate));
        Assert.Equal(MetricSample.Of(97.5), sample);
        Assert.Equal([MetricCheck.RequestSuccessRate], _fallback.Queries);
        Assert.Empty(_prometheus.QueryRequests);
    }

    [Fact]
    public async Task QueryAsync_BuiltinWithSpecMetricsServer_ProvidersQueryRenderedOnPrometheus()
    {
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("99.5"));
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(SuccessRate, "provider: linkerd\n" + Server));
        Assert.Equal(MetricSample.Of(99.5, "linkerd"), sample);
        Assert.Empty(_fallback.Queries);
        Assert.Equal(
            """sum( rate( response_total{ namespace="test", deployment=~"podinfo", classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{ namespace="test", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100""",
            Assert.Single(_prometheus.QueryRequests).Query);
    }

    [Fact]
    public async Task QueryAsync_BuiltinWithDefaultServerAndNoProvider_DefaultProvider()
    {
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("0.25"));
        using var resolver = Resolver(new MetricResolverOptions { DefaultMetricsServer = _prometheus.Url, DefaultProvider = "kubernetes" });
        var sample = await QueryAsync(resolver, Canary(Duration));
        Assert.Equal(MetricSample.Of(250, "kubernetes"), sample);
        Assert.Contains("http_request_duration_seconds_bucket", Assert.Single(_prometheus.QueryRequests).Query);
        Assert.Contains("[30s]", _prometheus.QueryRequests.Single().Query);
    }

    [Fact]
    public async Task QueryAsync_BuiltinProviderDefaultOptions_BuiltinUsesLinkerdQueries()
    {
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("42"));
        using var resolver = Resolver(new MetricResolverOptions { DefaultMetricsServer = _prometheus.Url });
        var sample = await QueryAsync(resolver, Canary(Duration));
        Assert.Equal(MetricSample.Of(42, "builtin"), sample);
        Assert.Contains("response_latency_ms_bucket", Assert.Single(_prometheus.QueryRequests).Query);
    }

    [Fact]
    public async Task QueryAsync_DefaultServerAuth_SentToTheDefaultServerOnly()
    {
        var variable = "AVIARY_TEST_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "runtime-token");
        try
        {
            using var resolver = Resolver(new MetricResolverOptions
            {
                DefaultMetricsServer = _prometheus.Url,
                DefaultMetricsServerAuth = PrometheusAuth.Bearer(Credential.FromEnvironment(variable)),
            });
            await QueryAsync(resolver, Canary(Duration));
            await using var other = await FakePrometheus.StartAsync();
            await QueryAsync(resolver, Canary(Duration, $"metricsServer: {other.Url}"));
            Assert.Equal("Bearer runtime-token", Assert.Single(_prometheus.QueryRequests).Headers.Authorization.ToString());
            Assert.False(Assert.Single(other.Requests).Headers.ContainsKey("Authorization"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task QueryAsync_HAProxy_RuntimeVariablesRendered()
    {
        using var resolver = Resolver(new MetricResolverOptions
        {
            DefaultMetricsServer = _prometheus.Url,
            RuntimeVariables = c => new Dictionary<string, string> { ["haproxy_backend"] = "be_" + c.TargetName, ["haproxy_canary_servers"] = "canary-.*" },
        });
        await QueryAsync(resolver, Canary(SuccessRate, "provider: haproxy"));
        Assert.Contains("""proxy="be_podinfo",server=~"canary-.*",code!="5xx"}[1m]""", Assert.Single(_prometheus.QueryRequests).Query);
    }

    [Fact]
    public async Task QueryAsync_HAProxyWithoutRuntimeVariables_ErrorNamesTheVariable()
    {
        using var resolver = Resolver(new MetricResolverOptions { DefaultMetricsServer = _prometheus.Url });
        var sample = await QueryAsync(resolver, Canary(SuccessRate, "provider: haproxy"));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.StartsWith("haproxy request-success-rate query: template: missing variable 'haproxy_backend'", sample.Message);
        Assert.Empty(_prometheus.QueryRequests);
    }

    [Fact]
    public async Task QueryAsync_ProviderWithoutQueries_ErrorNamesIt()
    {
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(SuccessRate, "provider: smi:v1alpha2\n" + Server));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.Equal("smi:v1alpha2", sample.Source);
        Assert.Contains("smi:v1alpha2 has no built-in metric queries", sample.Message);
        Assert.Empty(_prometheus.QueryRequests);
    }

    [Fact]
    public async Task QueryAsync_UnknownProvider_ErrorNotIstio()
    {
        using var resolver = Resolver();
        var canary = Canary(SuccessRate, Server) with { Provider = "consul" };
        var sample = await QueryAsync(resolver, canary);
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.StartsWith("unknown provider 'consul'", sample.Message);
    }

    [Fact]
    public async Task QueryAsync_BuiltinNoData_NoDataFromTheProvider()
    {
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("NaN"));
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(SuccessRate, "provider: istio\n" + Server));
        Assert.Equal(MetricSampleKind.NoData, sample.Kind);
        Assert.Equal("istio", sample.Source);
    }

    [Fact]
    public async Task QueryAsync_InlineQuery_RenderedAndRunOnTheMetricsServer()
    {
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("3"));
        using var resolver = Resolver();
        var canary = Canary("- name: errors\n  thresholdRange:\n    max: 5\n  interval: 2m\n  query: |\n    sum(rate(errors{ns=\"{{ namespace }}\",app=\"{{ target }}\"}[{{ interval }}]))\n", Server);
        var sample = await QueryAsync(resolver, canary);
        Assert.Equal(MetricSample.Of(3, "prometheus"), sample);
        Assert.Equal("""sum(rate(errors{ns="test",app="podinfo"}[2m]))""", Assert.Single(_prometheus.QueryRequests).Query);
    }

    [Fact]
    public async Task QueryAsync_InlineQueryWithoutServer_ErrorNamesTheMetric()
    {
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary("- name: errors\n  thresholdRange:\n    max: 5\n  query: sum(errors)\n"));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.StartsWith("metric errors has a query but no metrics server", sample.Message);
        Assert.Empty(_fallback.Queries);
    }

    private const string ErrorRate = "- name: error-rate\n  templateRef:\n    name: error-rate\n  thresholdRange:\n    max: 1\n  interval: 1m\n";

    [Fact]
    public async Task QueryAsync_Template_RenderedWithVariablesAndRunByItsProvider()
    {
        Template("error-rate", "sum(rate(errors{app=\"{{ target }}\",tier=\"{{ variables.tier }}\"}[{{ interval }}]))");
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("0.5"));
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate + "  templateVariables:\n    tier: web\n"));
        Assert.Equal(MetricSample.Of(0.5, "prometheus"), sample);
        Assert.Equal("""sum(rate(errors{app="podinfo",tier="web"}[1m]))""", Assert.Single(_prometheus.QueryRequests).Query);
    }

    [Fact]
    public async Task QueryAsync_TemplateNotFound_ErrorNamesIt()
    {
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSample.Failed("metric template error-rate.test not found", "prometheus"), sample);
    }

    [Fact]
    public async Task QueryAsync_TemplateInAnotherNamespace_Found()
    {
        Template("error-rate", "vector(1)", ns: "flagger-system");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate.Replace("name: error-rate\n  thresholdRange", "name: error-rate\n    namespace: flagger-system\n  thresholdRange", StringComparison.Ordinal)));
        Assert.Equal(MetricSampleKind.Value, sample.Kind);
    }

    [Fact]
    public async Task QueryAsync_TemplateMissingVariable_ErrorNamesTemplateAndVariable()
    {
        Template("error-rate", "sum(x{a=\"{{ variables.foo }}\"})");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.StartsWith("metric template error-rate.test: template: missing variable 'foo'", sample.Message);
        Assert.Empty(_prometheus.QueryRequests);
    }

    [Fact]
    public async Task QueryAsync_TemplateOfUnimplementedType_ErrorNamesTheType()
    {
        Template("error-rate", "avg:errors{*}", type: "externalmetrics");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSample.Failed("metric template error-rate.test: metric provider type 'externalmetrics' is not implemented by Aviary yet (implemented: cloudwatch, datadog, dynatrace, graphite, influxdb, keptn, newrelic, prometheus, splunk, stackdriver)", "externalmetrics"), sample);
    }

    [Fact]
    public async Task QueryAsync_TemplateProviderError_ErrorNamesTemplateAndStatus()
    {
        Template("error-rate", "sum(x)");
        _prometheus.Answer = _ => (500, """{"status":"error","errorType":"internal","error":"boom"}""");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSample.Failed("metric template error-rate.test: Prometheus answered 500 Internal Server Error: internal: boom", "prometheus"), sample);
    }

    [Fact]
    public async Task QueryAsync_TemplateNoData_NoDataNamingTheTemplate()
    {
        Template("error-rate", "sum(x)");
        _prometheus.Answer = _ => (200, """{"status":"success","data":{"resultType":"vector","result":[]}}""");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSample.NoData("metric template error-rate.test: the query returned no series", "prometheus"), sample);
    }

    [Fact]
    public async Task QueryAsync_TemplateWithSecret_CredentialsReachTheServer()
    {
        Template("error-rate", "sum(x)", secret: "prom-auth");
        _environment["AVIARY_SECRET_PROM_AUTH_TOKEN"] = "tok3n";
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSampleKind.Value, sample.Kind);
        Assert.Equal("Bearer tok3n", Assert.Single(_prometheus.QueryRequests).Headers.Authorization.ToString());
    }

    [Fact]
    public async Task QueryAsync_TemplateSecretMissing_ErrorNamesTemplateAndSecret()
    {
        Template("error-rate", "sum(x)", secret: "prom-auth");
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(ErrorRate));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.StartsWith("metric template error-rate.test: secret prom-auth not found: set AVIARY_SECRET_PROM_AUTH_", sample.Message);
    }

    [Fact]
    public async Task QueryAsync_SameTemplateTwice_ProviderCached()
    {
        Template("error-rate", "sum(x)");
        using var resolver = Resolver();
        var canary = Canary(ErrorRate);
        await QueryAsync(resolver, canary);
        await QueryAsync(resolver, canary);
        Assert.Equal(1, _providersCreated);
        Assert.Equal(2, _prometheus.QueryRequests.Count());
    }

    [Fact]
    public async Task QueryAsync_TemplateBackendOffline_FailedCheckNamingTheTemplate_CheckedAgainNextTime()
    {
        Template("error-rate", "sum(x)");
        _prometheus.OnlineAnswer = (503, """{"status":"error","errorType":"unavailable","error":"starting up"}""");
        using var resolver = Resolver();
        var canary = Canary(ErrorRate);

        var offline = await QueryAsync(resolver, canary);
        Assert.Equal(MetricSampleKind.Error, offline.Kind);
        Assert.StartsWith("prometheus in metric template error-rate.test not available: ", offline.Message, StringComparison.Ordinal);
        Assert.Empty(_prometheus.QueryRequests);

        // Once it answers, the next check finds it and runs the query; the online check is made once.
        _prometheus.OnlineAnswer = null;
        _prometheus.Answer = _ => (200, FakePrometheus.Vector("0.5"));
        Assert.Equal(MetricSample.Of(0.5, "prometheus"), await QueryAsync(resolver, canary));
        await QueryAsync(resolver, canary);
        Assert.Equal(2, _prometheus.Requests.Count(r => r.Query == "vector(1)"));
    }

    [Fact]
    public async Task QueryAsync_TemplateOrSecretChanged_ProviderRebuilt()
    {
        Template("error-rate", "sum(x)", secret: "prom-auth");
        _environment["AVIARY_SECRET_PROM_AUTH_TOKEN"] = "one";
        using var resolver = Resolver();
        var canary = Canary(ErrorRate);
        await QueryAsync(resolver, canary);
        _environment["AVIARY_SECRET_PROM_AUTH_TOKEN"] = "two";
        await QueryAsync(resolver, canary);
        Template("error-rate", "sum(y)", secret: "prom-auth");
        await QueryAsync(resolver, canary);
        Assert.Equal(2, _providersCreated);
        Assert.Equal(["Bearer one", "Bearer two", "Bearer two"], _prometheus.QueryRequests.Select(r => r.Headers.Authorization.ToString()));
        Assert.Equal("sum(y)", _prometheus.QueryRequests.Last().Query);
    }

    [Fact]
    public async Task QueryAsync_BadMetricsServer_Error()
    {
        using var resolver = Resolver();
        var sample = await QueryAsync(resolver, Canary(SuccessRate, "metricsServer: not-a-url"));
        Assert.Equal(MetricSampleKind.Error, sample.Kind);
        Assert.Equal("spec.metricsServer not-a-url is not a valid URL", sample.Message);
    }

    [Fact]
    public async Task CheckProvidersAsync_EverythingAnswers_Ok()
    {
        Template("error-rate", "sum(x)");
        using var resolver = Resolver();
        var outcome = await resolver.CheckProvidersAsync(Canary(SuccessRate + ErrorRate, Server), CancellationToken.None);
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["vector(1)", "vector(1)"], _prometheus.Requests.Select(r => r.Query));
    }

    [Fact]
    public async Task CheckProvidersAsync_TemplateServerDown_FailsNamingTheTemplate()
    {
        Template("error-rate", "sum(x)", address: $"http://127.0.0.1:{LocalTestBed.FreePort()}");
        using var resolver = Resolver();
        var outcome = await resolver.CheckProvidersAsync(Canary(ErrorRate), CancellationToken.None);
        Assert.False(outcome.Succeeded);
        Assert.StartsWith("prometheus in metric template error-rate.test not available: ", outcome.Error);
    }

    [Fact]
    public async Task CheckProvidersAsync_BuiltinWithoutServer_NothingToCheck()
    {
        using var resolver = Resolver();
        Assert.True((await resolver.CheckProvidersAsync(Canary(SuccessRate), CancellationToken.None)).Succeeded);
    }

    [Fact]
    public void Constructor_DefaultServerNotHttp_Throws() =>
        Assert.Throws<ArgumentException>(() => Resolver(new MetricResolverOptions { DefaultMetricsServer = new Uri("file:///tmp/prometheus") }));

    [Fact]
    public async Task QueryAsync_AfterDispose_Throws()
    {
        var resolver = Resolver(new MetricResolverOptions { DefaultMetricsServer = _prometheus.Url });
        resolver.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => QueryAsync(resolver, Canary(SuccessRate)));
    }
}

using Aviary.Core.Policy;
using Aviary.Metrics.Observers;
using Aviary.Metrics.Prometheus;
using Aviary.Metrics.Templates;

namespace Aviary.Metrics.Tests.Observers;

/// <summary>
/// The built-in queries per provider, rendered and put on one line, against the queries Flagger's own tests expect
/// for the same model — so that dashboards and semantics stay Flagger's.
/// </summary>
public sealed class ObserverQueriesTests
{
    private static MetricTemplateModel Model(string ns = "default", string target = "podinfo", string service = "podinfo",
        string ingress = "podinfo", string route = "podinfo", IReadOnlyDictionary<string, string>? variables = null) => new()
    {
        Name = "podinfo",
        Namespace = ns,
        Target = target,
        Service = service,
        Ingress = ingress,
        Route = route,
        Interval = "1m",
        Variables = variables ?? new Dictionary<string, string>(),
    };

    private static string Render(string provider, string metric, MetricTemplateModel model)
    {
        var queries = ObserverQueries.For(provider);
        Assert.True(queries.Succeeded, queries.Error);
        var rendered = queries.Value!.Render(metric, model);
        Assert.True(rendered.Succeeded, rendered.Error);
        return PromQl.Normalize(rendered.Value!);
    }

    public static TheoryData<string, string, string> FlaggerExpectations => new()
    {
        { "linkerd", MetricCheck.RequestSuccessRate, """sum( rate( response_total{ namespace="default", deployment=~"podinfo", classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{ namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100""" },
        { "linkerd", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) by (le) )""" },
        { "istio", MetricCheck.RequestSuccessRate, """sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="default", destination_workload=~"podinfo", response_code!~"5.*" }[1m] ) ) / sum( rate( istio_requests_total{ reporter="destination", destination_workload_namespace="default", destination_workload=~"podinfo" }[1m] ) ) * 100""" },
        { "istio", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{ reporter="destination", destination_workload_namespace="default", destination_workload=~"podinfo" }[1m] ) ) by (le) )""" },
        { "contour", MetricCheck.RequestSuccessRate, """sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+", envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+", }[1m] ) ) * 100""" },
        { "contour", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )""" },
        { "gloo", MetricCheck.RequestSuccessRate, """sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+", envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+", }[1m] ) ) * 100""" },
        { "gloo", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )""" },
        { "kuma", MetricCheck.RequestSuccessRate, """sum( rate( envoy_cluster_upstream_rq{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) * 100""" },
        { "kuma", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )""" },
        { "kubernetes", MetricCheck.RequestSuccessRate, """sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[1m] ) ) / sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100""" },
        { "gatewayapi:v1", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) by (le) )""" },
        { "apisix", MetricCheck.RequestSuccessRate, """sum( rate( apisix_http_status{ route=~"default_podinfo-podinfo-canary_.+", code!~"5.." }[1m] ) ) / sum( rate( apisix_http_status{ route=~"default_podinfo-podinfo-canary_.+" }[1m] ) ) * 100""" },
        { "apisix", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( apisix_http_latency_bucket{ type=~"request", route=~"default_podinfo-podinfo-canary_.+" }[1m] ) ) by (le) )""" },
        { "osm", MetricCheck.RequestSuccessRate, """sum( rate( osm_request_total{ destination_namespace="default", destination_kind="Deployment", destination_name="podinfo", response_code!~"5.*" }[1m] ) ) / sum( rate( osm_request_total{ destination_namespace="default", destination_kind="Deployment", destination_name="podinfo" }[1m] ) ) * 100""" },
        { "osm", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( osm_request_duration_ms_bucket{ destination_namespace="default", destination_kind="Deployment", destination_name="podinfo" }[1m] ) ) by (le) )""" },
        { "traefik", MetricCheck.RequestSuccessRate, """sum( rate( traefik_service_request_duration_seconds_bucket{ service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd", code!~"5..", le="+Inf" }[1m] ) ) / sum( rate( traefik_service_request_duration_seconds_bucket{ service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd", le="+Inf" }[1m] ) ) * 100""" },
        { "traefik", MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( traefik_service_request_duration_seconds_bucket{ service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd" }[1m] ) ) by (le) ) * 1000""" },
    };

    [Theory]
    [MemberData(nameof(FlaggerExpectations))]
    public void Render_DefaultModel_SameQueryAsFlagger(string provider, string metric, string expected) =>
        Assert.Equal(expected, Render(provider, metric, Model()));

    [Fact]
    public void Render_Contour_UsesTheServiceName() =>
        Assert.Equal("""histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ envoy_cluster_name=~"default_podinfo-service-canary_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )""",
            Render("contour", MetricCheck.RequestDuration, Model(service: "podinfo-service")));

    [Theory]
    [InlineData(MetricCheck.RequestSuccessRate, """sum( rate( nginx_ingress_controller_requests{ namespace="nginx", ingress="podinfo", canary!="", status!~"5.*" }[1m] ) ) / sum( rate( nginx_ingress_controller_requests{ namespace="nginx", ingress="podinfo", canary!="" }[1m] ) ) * 100""")]
    [InlineData(MetricCheck.RequestDuration, """sum( rate( nginx_ingress_controller_response_duration_seconds_sum{ namespace="nginx", ingress="podinfo", canary!="" }[1m] ) ) / sum( rate( nginx_ingress_controller_response_duration_seconds_count{ namespace="nginx", ingress="podinfo", canary!="" }[1m] ) ) * 1000""")]
    public void Render_Nginx_UsesTheIngress(string metric, string expected) =>
        Assert.Equal(expected, Render("nginx", metric, Model(ns: "nginx")));

    [Theory]
    [InlineData(MetricCheck.RequestSuccessRate, """sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default/podinfo-00001", envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default/podinfo-00001", }[1m] ) ) * 100""")]
    [InlineData(MetricCheck.RequestDuration, """histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ envoy_cluster_name=~"default/podinfo-00001", }[1m] ) ) by (le) )""")]
    public void Render_Knative_UsesTheRoute(string metric, string expected) =>
        Assert.Equal(expected, Render("knative", metric, Model(route: "podinfo-00001")));

    [Theory]
    [InlineData(MetricCheck.RequestSuccessRate, """sum(rate(skipper_response_duration_seconds_bucket{route=~"kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?",code!~"5..",le="+Inf"}[1m])) / sum(rate(skipper_response_duration_seconds_bucket{route=~"kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?",le="+Inf"}[1m])) * 100""")]
    [InlineData(MetricCheck.RequestDuration, """sum(rate(skipper_serve_route_duration_seconds_sum{route=~"kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?"}[1m])) / sum(rate(skipper_serve_route_duration_seconds_count{route=~"kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?"}[1m])) * 1000""")]
    public void Render_Skipper_NamesEncodedAsFlaggerDoes(string metric, string expected) =>
        Assert.Equal(expected, Render("skipper", metric, Model(ns: "skipper", service: "backend", ingress: "skipper-ingress")));

    [Fact]
    public void Render_HAProxy_UsesTheRuntimeVariables()
    {
        var model = Model(variables: new Dictionary<string, string> { ["haproxy_backend"] = "be_podinfo", ["haproxy_canary_servers"] = "canary-[0-9]+" });
        Assert.Equal(
            """sum(rate(haproxy_server_http_responses_total{proxy="be_podinfo",server=~"canary-[0-9]+",code!="5xx"}[1m])) / sum(rate(haproxy_server_http_responses_total{proxy="be_podinfo",server=~"canary-[0-9]+"}[1m])) * 100""",
            Render("haproxy", MetricCheck.RequestSuccessRate, model));
        Assert.Equal("""avg( haproxy_server_response_time_average_seconds{proxy="be_podinfo",server=~"canary-[0-9]+"} / on(proxy, server) (1 - (511 / 512) ^ sum by (proxy, server) (haproxy_server_http_responses_total{proxy="be_podinfo",server=~"canary-[0-9]+"})) > 0 ) * 1000""",
            Render("haproxy", MetricCheck.RequestDuration, model));
        Assert.Equal(1, ObserverQueries.For("haproxy").Value!.ScaleFor(MetricCheck.RequestDuration));
    }

    [Fact]
    public void Render_HAProxyWithoutVariables_ErrorNamesTheVariable()
    {
        var rendered = ObserverQueries.For("haproxy").Value!.Render(MetricCheck.RequestSuccessRate, Model());
        Assert.False(rendered.Succeeded);
        Assert.StartsWith("template: missing variable 'haproxy_backend'", rendered.Error);
    }

    [Fact]
    public void For_Builtin_IsLinkerdsQueriesUnderItsOwnName()
    {
        var builtin = ObserverQueries.For("builtin").Value!;
        var linkerd = ObserverQueries.For("linkerd").Value!;
        Assert.Equal("builtin", builtin.Provider);
        Assert.Equal((linkerd.SuccessRate, linkerd.Duration, 1.0), (builtin.SuccessRate, builtin.Duration, builtin.DurationToMilliseconds));
    }

    [Theory]
    [InlineData("kubernetes")]
    [InlineData("gatewayapi:v1")]
    [InlineData("gatewayapi:v1beta1")]
    public void For_HttpProviders_DurationInSecondsScaledToMilliseconds(string provider)
    {
        var queries = ObserverQueries.For(provider).Value!;
        Assert.Equal(provider, queries.Provider);
        Assert.Equal(1000, queries.ScaleFor(MetricCheck.RequestDuration));
        Assert.Equal(1, queries.ScaleFor(MetricCheck.RequestSuccessRate));
    }

    [Fact]
    public void For_EveryListedProvider_HasQueriesThatRender()
    {
        var model = Model(variables: new Dictionary<string, string> { ["haproxy_backend"] = "b", ["haproxy_canary_servers"] = "s" });
        foreach (var provider in ObserverQueries.Queried)
        {
            Assert.NotEmpty(Render(provider, MetricCheck.RequestSuccessRate, model));
            Assert.NotEmpty(Render(provider, MetricCheck.RequestDuration, model));
        }
    }

    [Theory]
    [InlineData("consul")]
    [InlineData("Linkerd")]
    [InlineData("")]
    public void For_Unknown_ErrorNotIstio(string provider)
    {
        var queries = ObserverQueries.For(provider);
        Assert.False(queries.Succeeded);
        Assert.DoesNotContain("istio_requests_total", queries.Error);
        if (provider.Length > 0) Assert.StartsWith($"unknown provider '{provider}'", queries.Error);
    }

    [Fact]
    public void For_Smi_ErrorSaysToUseATemplate()
    {
        var queries = ObserverQueries.For("smi:v1alpha3");
        Assert.False(queries.Succeeded);
        Assert.Contains("smi:v1alpha3 has no built-in metric queries", queries.Error);
    }

    [Fact]
    public void Render_NotABuiltinMetric_Error() =>
        Assert.False(ObserverQueries.For("linkerd").Value!.Render("error-rate", Model()).Succeeded);
}

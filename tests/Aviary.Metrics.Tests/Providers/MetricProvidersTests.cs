using Aviary.Core.Model;
using Aviary.Metrics.Providers;

namespace Aviary.Metrics.Tests.Providers;

public sealed class MetricProvidersTests
{
    private static MetricProviderContext Context(MetricTemplateProvider spec, Dictionary<string, string>? credentials = null) =>
        new(spec, credentials ?? [], "1m", TimeProvider.System);

    [Fact]
    public void Create_Prometheus_IsThePrometheusProvider()
    {
        var created = MetricProviders.Create(Context(new MetricTemplateProvider { Type = "prometheus", Address = "http://prom:9090" }));
        Assert.True(created.Succeeded, created.Error);
        using var provider = created.Value!;
        Assert.Equal("prometheus", provider.Type);
        var client = Assert.IsType<PrometheusProvider>(provider).Client;
        Assert.Equal("http://prom:9090", client.Address);
        Assert.Null(client.Options.Auth);
        Assert.False(client.Options.InsecureSkipVerify);
    }

    [Theory]
    [InlineData("externalmetrics")]
    public void Create_FlaggerTypeNotImplemented_ErrorNamesIt(string type)
    {
        var created = MetricProviders.Create(Context(new MetricTemplateProvider { Type = type, Address = "http://x" }));
        Assert.False(created.Succeeded);
        Assert.Equal($"metric provider type '{type}' is not implemented by Aviary yet (implemented: cloudwatch, datadog, dynatrace, graphite, influxdb, keptn, newrelic, prometheus, splunk, stackdriver)", created.Error);
    }

    [Theory]
    [InlineData("prometeus")]
    [InlineData("Prometheus")]
    [InlineData("")]
    public void Create_UnknownType_ErrorNotAFallback(string type)
    {
        var created = MetricProviders.Create(Context(new MetricTemplateProvider { Type = type, Address = "http://x" }));
        Assert.False(created.Succeeded);
        Assert.Equal($"unknown metric provider type '{type}' (implemented: cloudwatch, datadog, dynatrace, graphite, influxdb, keptn, newrelic, prometheus, splunk, stackdriver)", created.Error);
    }

    [Fact]
    public void Create_PrometheusWithoutAddress_Error() =>
        Assert.Equal("prometheus address is empty: set spec.provider.address",
            MetricProviders.Create(Context(new MetricTemplateProvider { Type = "prometheus" })).Error);

    [Fact]
    public void Create_PrometheusBadAddress_Error() =>
        Assert.Equal("prometheus address not a url is not a valid URL",
            MetricProviders.Create(Context(new MetricTemplateProvider { Type = "prometheus", Address = "not a url" })).Error);

    [Fact]
    public void Create_AddressFromSecret_UsedWhenTheSpecHasNone()
    {
        var spec = new MetricTemplateProvider { Type = "prometheus", SecretRef = new SecretReference { Name = "prom" } };
        using var provider = MetricProviders.Create(Context(spec, new() { ["address"] = "https://prom.example:9090/", ["token"] = "t" })).Value!;
        Assert.Equal("https://prom.example:9090", ((PrometheusProvider)provider).Client.Address);
    }

    [Fact]
    public void Create_SecretWithToken_BearerAuth()
    {
        var spec = new MetricTemplateProvider { Type = "prometheus", Address = "http://prom", SecretRef = new SecretReference { Name = "prom" } };
        using var provider = MetricProviders.Create(Context(spec, new() { ["token"] = "t", ["username"] = "u", ["password"] = "p" })).Value!;
        var auth = ((PrometheusProvider)provider).Client.Options.Auth!;
        Assert.Equal("t", auth.Token!.Read().Value);
        Assert.Null(auth.Username);
    }

    [Fact]
    public void Create_SecretWithUserAndPassword_BasicAuth()
    {
        var spec = new MetricTemplateProvider { Type = "prometheus", Address = "http://prom", SecretRef = new SecretReference { Name = "prom" } };
        using var provider = MetricProviders.Create(Context(spec, new() { ["username"] = "u", ["password"] = "p" })).Value!;
        var auth = ((PrometheusProvider)provider).Client.Options.Auth!;
        Assert.Equal(("u", "p"), (auth.Username!.Read().Value, auth.Password!.Read().Value));
    }

    [Theory]
    [InlineData("password", "prometheus credentials (secret prom) do not contain a token or a username")]
    [InlineData("username", "prometheus credentials (secret prom) do not contain a password")]
    public void Create_SecretIncomplete_ErrorAsFlagger(string onlyKey, string error)
    {
        var spec = new MetricTemplateProvider { Type = "prometheus", Address = "http://prom", SecretRef = new SecretReference { Name = "prom" } };
        Assert.Equal(error, MetricProviders.Create(Context(spec, new() { [onlyKey] = "x" })).Error);
    }

    [Fact]
    public void Create_HeadersAndInsecure_Applied()
    {
        var spec = new MetricTemplateProvider
        {
            Type = "prometheus",
            Address = "https://prom",
            InsecureSkipVerify = true,
            Headers = new Dictionary<string, IReadOnlyList<string>> { ["X-Scope-OrgID"] = ["t1"] },
        };
        using var provider = MetricProviders.Create(Context(spec)).Value!;
        var options = ((PrometheusProvider)provider).Client.Options;
        Assert.True(options.InsecureSkipVerify);
        Assert.Equal(["t1"], options.Headers["X-Scope-OrgID"]);
    }

    [Fact]
    public void Implemented_AreFlaggerTypes()
    {
        Assert.Equal(["cloudwatch", "datadog", "dynatrace", "graphite", "influxdb", "keptn", "newrelic", "prometheus", "splunk", "stackdriver"], MetricProviders.Implemented);
        Assert.All(MetricProviders.Implemented, t => Assert.Contains(t, MetricProviders.FlaggerTypes));
    }
}

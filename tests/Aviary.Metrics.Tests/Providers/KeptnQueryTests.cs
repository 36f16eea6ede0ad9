using Aviary.Core.Model;
using Aviary.Metrics.Providers;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// <c>type: keptn</c>'s query format and setup (its data is read from a real API server in Aviary.Kubernetes.Tests'
/// <c>KeptnProviderTests</c>): Flagger's <c>&lt;keptnmetric|analysis&gt;/&lt;namespace&gt;/&lt;name&gt;/&lt;duration&gt;/&lt;k=v;…&gt;</c>.
/// </summary>
public sealed class KeptnQueryTests
{
    [Fact]
    public void Parse_AnalysisWithDurationAndArguments()
    {
        var query = KeptnProvider.Parse("Analysis/prod/slo-check/5m/workload=podinfo;env=Prod;broken\n").Value!;
        Assert.True(query.Analysis);
        Assert.Equal(("prod", "slo-check", "5m"), (query.Namespace, query.Name, query.Duration));
        Assert.Equal(new Dictionary<string, string> { ["workload"] = "podinfo", ["env"] = "Prod" }, query.Arguments);
    }

    [Fact]
    public void Parse_DefaultsAndKeptnMetric()
    {
        Assert.Equal("1m", KeptnProvider.Parse("analyses/prod/slo").Value!.Duration);
        var metric = KeptnProvider.Parse("keptnmetrics/prod/response-time").Value!;
        Assert.False(metric.Analysis);
        Assert.Equal("response-time", metric.Name);
    }

    [Theory]
    [InlineData("keptnmetric/prod", "is not in the format <keptnmetric|analysis>/<namespace>/<name>")]
    [InlineData("metric/prod/x", "kind 'metric' must be one of: keptnmetric, analysis")]
    public void Parse_Malformed_ErrorSaysTheFormat(string text, string expected)
    {
        var parsed = KeptnProvider.Parse(text);
        Assert.False(parsed.Succeeded);
        Assert.Contains(expected, parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_WithoutTheCluster_NeedsTheKubernetesRuntime()
    {
        var created = MetricProviders.Create(new MetricProviderContext(new MetricTemplateProvider { Type = "keptn" }, new Dictionary<string, string>(), "1m", TimeProvider.System));
        Assert.Equal("keptn reads KeptnMetrics and Analyses from the cluster: it needs the Kubernetes runtime (aviary operator)", created.Error);
    }
}

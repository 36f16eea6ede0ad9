using System.Text.Json;
using System.Text.RegularExpressions;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Dashboard;

/// <summary>deploy/grafana/aviary-dashboard.json: every panel's query is valid PromQL for a real Prometheus.</summary>
public sealed partial class GrafanaDashboardTests
{
    private static readonly string PathToDashboard = Path.Combine(RepoPaths.Root, "deploy", "grafana", "aviary-dashboard.json");

    private static List<(string Panel, string Expr)> Queries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathToDashboard));
        return doc.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (p.GetProperty("title").GetString()!, t.GetProperty("expr").GetString()!)))
            .ToList();
    }

    /// <summary>Grafana's variables as a dashboard user would have them.</summary>
    private static string Substitute(string expr) => expr
        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
        .Replace("$namespace", "test", StringComparison.Ordinal)
        .Replace("$target", "podinfo", StringComparison.Ordinal);

    [Fact]
    public void Dashboard_Structure_HasUniquePanelsWithPrometheusQueries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathToDashboard));
        var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.All(panels, p => Assert.Equal("prometheus", p.GetProperty("datasource").GetProperty("type").GetString()));
        Assert.All(panels, p => Assert.NotEmpty(p.GetProperty("targets").EnumerateArray()));
        var titles = panels.Select(p => p.GetProperty("title").GetString()!).ToList();
        Assert.Contains(titles, t => t.Contains("Request rate", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("Error rate", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("Latency", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("weight", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(titles, t => t == "Status");
        Assert.All(Queries(), q => Assert.DoesNotMatch(UnknownVariable(), Substitute(q.Expr)));
    }

    [Fact]
    public async Task Dashboard_EveryPanelQuery_IsValidPromQlOnARealPrometheus()
    {
        await using var prometheus = await PrometheusServer.StartAsync();
        using var http = new HttpClient { BaseAddress = prometheus.Url };
        var failures = new List<string>();
        foreach (var (panel, expr) in Queries())
        {
            using var response = await http.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(Substitute(expr)));
            var body = await response.Content.ReadAsStringAsync();
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.GetProperty("status").GetString() != "success") failures.Add($"{panel}: {body}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [GeneratedRegex(@"\$[A-Za-z_{]")]
    private static partial Regex UnknownVariable();
}

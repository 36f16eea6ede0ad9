using Aviary.Core.Manifests;
using Aviary.Core.Validation;

namespace Aviary.Core.Tests.Manifests;

/// <summary>Small manifests for the reader and validator tests, valid unless a test changes them.</summary>
internal static class TestManifests
{
    public const string DefaultAnalysis = """
        interval: 30s
        threshold: 5
        maxWeight: 50
        stepWeight: 10
        metrics:
        - name: request-success-rate
          thresholdRange:
            min: 99
          interval: 1m
        """;

    /// <summary>A Canary with <paramref name="analysis"/> (written unindented) as its <c>spec.analysis</c>.</summary>
    public static string Canary(string analysis = DefaultAnalysis, string specExtra = "", string name = "podinfo") =>
        $"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: {name}
          namespace: test
        spec:
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: 9898
        {Indent(specExtra, 2)}
          analysis:
        {Indent(analysis, 4)}
        """;

    public const string MetricTemplateYaml = """
        apiVersion: flagger.app/v1beta1
        kind: MetricTemplate
        metadata:
          name: error-rate
          namespace: test
        spec:
          provider:
            type: prometheus
            address: http://prometheus.monitoring:9090
          query: |
            100 - sum(rate(http_requests_total{status!~"5.*"}[{{ interval }}])) / sum(rate(http_requests_total[{{ interval }}])) * 100
        """;

    public const string AlertProviderYaml = """
        apiVersion: flagger.app/v1beta1
        kind: AlertProvider
        metadata:
          name: on-call
          namespace: test
        spec:
          type: slack
          channel: on-call-alerts
          username: flagger
          address: https://hooks.slack.com/services/T/B/X
        """;

    public static string Indent(string text, int spaces)
    {
        var pad = new string(' ', spaces);
        return string.Join('\n', text.Split('\n').Select(l => l.Length == 0 ? l : pad + l));
    }

    /// <summary>Reads one document that must not be a syntax error.</summary>
    public static ManifestDocument ReadOne(string yaml)
    {
        var file = ManifestReader.Read(yaml);
        Assert.Null(file.SyntaxError);
        return Assert.Single(file.Documents);
    }

    public static List<string> Errors(this ManifestDocument doc) =>
        doc.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()).ToList();

    public static List<string> Warnings(this ManifestDocument doc) =>
        doc.Diagnostics.Where(d => !d.IsError).Select(d => d.ToString()).ToList();

    public static string Describe(this IEnumerable<Diagnostic> diagnostics) => string.Join("\n", diagnostics);
}

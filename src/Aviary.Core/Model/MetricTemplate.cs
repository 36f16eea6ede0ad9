using System.ComponentModel.DataAnnotations;

namespace Aviary.Core.Model;

/// <summary>A Flagger MetricTemplate: a provider and a query rendered per canary.</summary>
public sealed record MetricTemplate : IManifest
{
    public const string KindName = "MetricTemplate";

    public string ApiVersion { get; init; } = FlaggerApi.Version;
    public string Kind { get; init; } = KindName;
    [Required] public ObjectMeta Metadata { get; init; } = new();
    [Required] public MetricTemplateSpec Spec { get; init; } = new();
}

public sealed record MetricTemplateSpec
{
    [Required] public MetricTemplateProvider Provider { get; init; } = new();
    [Required] public string Query { get; init; } = "";
}

public sealed record MetricTemplateProvider
{
    [Required, AllowedValues("prometheus", "influxdb", "datadog", "externalmetrics", "stackdriver", "cloudwatch", "newrelic",
        "graphite", "dynatrace", "keptn", "splunk")]
    public string Type { get; init; } = "";

    public string? Address { get; init; }
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Headers { get; init; }
    public SecretReference? SecretRef { get; init; }
    public string? Region { get; init; }
    public bool? InsecureSkipVerify { get; init; }
}

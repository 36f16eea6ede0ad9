using Aviary.Hooks.Webhooks;

namespace Aviary.Local.Controller;

/// <summary>Settings of a local controller, with their defaults.</summary>
public sealed record LocalControllerOptions
{
    /// <summary>Manifest files and folders to read (and watch).</summary>
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>Where the state lives: <c>state.db</c>, the API token, instance logs, applied manifests. Default <c>.aviary</c>.</summary>
    public string StateDir { get; init; } = ".aviary";

    /// <summary>Address of the controller's HTTP API (loopback by default); port 0 picks a free one.</summary>
    public string ApiAddress { get; init; } = "127.0.0.1:8484";

    /// <summary>Address the router's listeners bind to; default loopback.</summary>
    public string RouterBindAddress { get; init; } = "127.0.0.1";

    /// <summary>How often manifest files are checked for changes; default 500 ms.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long an instance may take to finish its in-flight requests before it is stopped anyway; default 10 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the HMAC secret that signs webhook calls comes from; null sends them unsigned (as Flagger does).</summary>
    public WebhookSigning? WebhookSigning { get; init; }

    /// <summary>Port of the Prometheus exporter of the HAProxy Aviary generates for <c>provider: haproxy</c>; null: none.</summary>
    public int? HAProxyMetricsPort { get; init; }

    /// <summary>Prometheus for canaries without <c>spec.metricsServer</c>; null measures built-in metrics with the router's own counters.</summary>
    public Uri? MetricsServer { get; init; }

    /// <summary>
    /// Folder of secrets referenced by AlertProviders and MetricTemplates (<c>DIR/NAME/KEY</c>); environment variables
    /// <c>AVIARY_SECRET_NAME_KEY</c> win. Default <c>STATE/secrets</c>.
    /// </summary>
    public string? SecretsDir { get; init; }

    /// <summary>The web dashboard on the API's address (<c>/ui/</c>); null turns it off.</summary>
    public Aviary.Dashboard.DashboardOptions? Dashboard { get; init; } = new();
}

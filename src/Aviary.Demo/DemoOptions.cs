namespace Aviary.Demo;

/// <summary>
/// The demo service's settings. Each one is read from a flag (<c>--port 5000</c> or <c>--port=5000</c>) or,
/// when the flag is absent, from an environment variable (<c>DEMO_PORT</c>); flags win.
/// </summary>
public sealed record DemoOptions
{
    /// <summary>Default port, podinfo's.</summary>
    public const int DefaultPort = 9898;

    /// <summary>TCP port to listen on (<c>--port</c>, <c>DEMO_PORT</c>); 0 picks a free port. Default 9898.</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>Address to listen on (<c>--bind</c>, <c>DEMO_BIND</c>): an IP address or <c>localhost</c>. Default 127.0.0.1.</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>The version reported by <c>GET /</c> (<c>--version</c>, <c>DEMO_VERSION</c>). Default 1.0.0.</summary>
    public string Version { get; init; } = "1.0.0";

    /// <summary>The revision (commit) reported by <c>GET /</c> (<c>--revision</c>, <c>DEMO_REVISION</c>). Default empty.</summary>
    public string Revision { get; init; } = "";

    /// <summary>The color reported by <c>GET /</c> (<c>--color</c>, <c>DEMO_COLOR</c>). Default podinfo's #34577c.</summary>
    public string Color { get; init; } = "#34577c";

    /// <summary>
    /// The message reported by <c>GET /</c> (<c>--message</c>, <c>DEMO_MESSAGE</c>).
    /// Default (null): <c>greetings from podinfo v{Version}</c>.
    /// </summary>
    public string? Message { get; init; }

    /// <summary>Fraction (0..1) of <c>GET /</c> requests answered with 500 (<c>--error-rate</c>, <c>DEMO_ERROR_RATE</c>). Default 0.</summary>
    public double ErrorRate { get; init; }

    /// <summary>Latency added to every <c>/</c> request (<c>--latency</c>, <c>DEMO_LATENCY</c>). Default none.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>
    /// Spread of the added latency (<c>--latency-jitter</c>, <c>DEMO_LATENCY_JITTER</c>): each request waits
    /// <see cref="Latency"/> plus a uniform amount in ±jitter (never below zero). Default none.
    /// </summary>
    public TimeSpan LatencyJitter { get; init; }

    /// <summary>Time after startup before <c>/readyz</c> reports ready (<c>--ready-delay</c>, <c>DEMO_READY_DELAY</c>). Default none.</summary>
    public TimeSpan ReadyDelay { get; init; }

    /// <summary>Never report ready (<c>--never-ready</c>, <c>DEMO_NEVER_READY</c>), to test progress deadlines. Default false.</summary>
    public bool NeverReady { get; init; }

    /// <summary>Seed of the random source behind the error rate and the jitter (<c>--seed</c>, <c>DEMO_SEED</c>). Default: unseeded.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Lowest level of the service's own log lines (<c>--log-level</c>, <c>DEMO_LOG_LEVEL</c>): one of
    /// trace, debug, info, warning, error, none. Default info (a line at start and one at stop; no request logs).
    /// ASP.NET Core's own categories log warnings and above only.
    /// </summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>The message <c>GET /</c> reports: <see cref="Message"/> or podinfo's greeting.</summary>
    public string EffectiveMessage => Message ?? $"greetings from podinfo v{Version}";
}

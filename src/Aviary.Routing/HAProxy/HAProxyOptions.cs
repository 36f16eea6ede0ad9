namespace Aviary.Routing.HAProxy;

/// <summary>How <see cref="HAProxyRouter"/> gets its HAProxy.</summary>
public enum HAProxyMode
{
    /// <summary>Aviary writes the configuration, starts HAProxy, supervises it and stops it.</summary>
    Generate,

    /// <summary>An HAProxy run by someone else; Aviary only drives it through its runtime API.</summary>
    Attach,
}

/// <summary>
/// Settings of the HAProxy router. Exactly one of <see cref="StateDirectory"/> (generate mode) and
/// <see cref="Attach"/> (attach mode) is set.
/// </summary>
public sealed record HAProxyOptions
{
    /// <summary>Generate mode: the folder for <c>haproxy.cfg</c>, the stats socket (<c>haproxy.sock</c>), the master
    /// CLI socket (<c>master.sock</c>), the pid file, the server state file and HAProxy's output (<c>haproxy.log</c>).
    /// Created when missing. Its path must be short enough for a Unix socket path (about 100 bytes).</summary>
    public string? StateDirectory { get; init; }

    /// <summary>Attach mode: the stats socket and the backends of an HAProxy that Aviary does not run.</summary>
    public HAProxyAttachOptions? Attach { get; init; }

    /// <summary>Generate mode: the HAProxy program; default <c>haproxy</c>, looked up in PATH and then in
    /// <c>/usr/sbin</c>, <c>/usr/local/sbin</c> and <c>/sbin</c>.</summary>
    public string Executable { get; init; } = "haproxy";

    /// <summary>Generate mode: server slots declared per role and service (<c>server-template primary 1-N</c> and
    /// <c>canary 1-N</c>); default 16, at most 256. An instance beyond the slots of its role gets no traffic.</summary>
    public int SlotsPerRole { get; init; } = 16;

    /// <summary>Generate mode: the address the service frontends bind with <c>service.port</c>; default 127.0.0.1.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>Generate mode: the port of a frontend on 127.0.0.1 serving HAProxy's Prometheus exporter at
    /// <c>/metrics</c>; default null (no exporter).</summary>
    public int? MetricsPort { get; init; }

    /// <summary>Generate mode, <c>timeout connect</c>: longest wait for a TCP connection to an instance; default 5 s.
    /// A request that could not connect is retried (up to 3 times, on another instance when there is one).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Generate mode, <c>timeout server</c>: longest inactivity of an instance while answering; default
    /// 100 s (the built-in proxy's request timeout).</summary>
    public TimeSpan ServerTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Generate mode, <c>timeout client</c>: longest inactivity of a client; default 100 s.</summary>
    public TimeSpan ClientTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Generate mode, <c>timeout http-keep-alive</c>: how long an idle client connection is kept; default 60 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Generate mode, <c>hard-stop-after</c>: how long workers replaced by a reload may finish their
    /// requests; default 5 minutes.</summary>
    public TimeSpan HardStopAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Generate mode: longest wait for a started or reloaded HAProxy to answer on its socket; default 10 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Generate mode: on dispose, how long HAProxy may finish its requests (graceful stop, SIGUSR1) before it
    /// is killed; default 10 s.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Generate mode: first wait before restarting an HAProxy that died; doubled after each failed start up to
    /// 30 s; default 1 s.</summary>
    public TimeSpan RestartDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for one runtime API command; default 5 s.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a drain polls the server's sessions (<c>scur</c>); default 100 ms.</summary>
    public TimeSpan DrainPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>After a failed runtime API command, how long until the router tries to apply its state again; default 1 s.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    public HAProxyMode Mode => Attach is null ? HAProxyMode.Generate : HAProxyMode.Attach;

    /// <summary>Throws <see cref="ArgumentException"/> naming every invalid setting.</summary>
    public void Validate()
    {
        List<string> errors = [];
        if (Attach is null && string.IsNullOrWhiteSpace(StateDirectory))
            errors.Add($"{nameof(StateDirectory)} (generate mode) or {nameof(Attach)} (attach mode) is required");
        if (Attach is not null && StateDirectory is not null)
            errors.Add($"{nameof(StateDirectory)} and {nameof(Attach)} exclude each other");
        if (StateDirectory is not null && Path.Combine(Path.GetFullPath(StateDirectory), "master.sock").Length > MaxSocketPath)
            errors.Add($"{nameof(StateDirectory)} '{StateDirectory}' is too long for a Unix socket path");
        if (string.IsNullOrWhiteSpace(Executable)) errors.Add($"{nameof(Executable)} is required");
        if (SlotsPerRole is < 1 or > 256) errors.Add($"{nameof(SlotsPerRole)} must be within 1..256");
        if (!System.Net.IPAddress.TryParse(BindAddress, out _)) errors.Add($"{nameof(BindAddress)} '{BindAddress}' is not an IP address");
        if (MetricsPort is < 1 or > 65535) errors.Add($"{nameof(MetricsPort)} must be within 1..65535");
        foreach (var (name, value) in new[]
        {
            (nameof(ConnectTimeout), ConnectTimeout), (nameof(ServerTimeout), ServerTimeout), (nameof(ClientTimeout), ClientTimeout),
            (nameof(KeepAliveTimeout), KeepAliveTimeout), (nameof(HardStopAfter), HardStopAfter), (nameof(StartTimeout), StartTimeout),
            (nameof(StopTimeout), StopTimeout), (nameof(RestartDelay), RestartDelay), (nameof(CommandTimeout), CommandTimeout),
            (nameof(DrainPollInterval), DrainPollInterval), (nameof(RetryInterval), RetryInterval),
        })
        {
            if (value <= TimeSpan.Zero) errors.Add($"{name} must be positive");
        }
        if (Attach is not null) Attach.Validate(errors);
        if (errors.Count > 0) throw new ArgumentException("Invalid HAProxy options: " + string.Join("; ", errors));
    }

    /// <summary>Linux's limit for a Unix socket path (108 bytes with the terminating zero), with a margin.</summary>
    internal const int MaxSocketPath = 104;
}

/// <summary>Attach mode: the stats socket of a running HAProxy (<c>level admin</c>) and the backend of each service.</summary>
public sealed record HAProxyAttachOptions(string SocketPath, IReadOnlyList<HAProxyAttachment> Backends)
{
    internal void Validate(List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(SocketPath)) errors.Add("Attach.SocketPath is required");
        if (Backends is null || Backends.Count == 0)
        {
            errors.Add("Attach.Backends must name at least one backend");
            return;
        }
        var services = new HashSet<string>(StringComparer.Ordinal);
        foreach (var b in Backends)
        {
            if (b is null) { errors.Add("Attach.Backends holds a null entry"); continue; }
            if (!services.Add(b.Service)) errors.Add($"Attach.Backends: service '{b.Service}' is given twice");
            if (!IsName(b.Backend)) errors.Add($"Attach.Backends[{b.Service}]: '{b.Backend}' is not an HAProxy backend name");
            foreach (var (role, names) in new[] { ("PrimaryServers", b.PrimaryServers), ("CanaryServers", b.CanaryServers) })
            {
                if (names is null || names.Count == 0) errors.Add($"Attach.Backends[{b.Service}].{role} must name at least one server");
                else if (names.Any(n => !IsName(n.EndsWith('*') ? n[..^1] : n)))
                    errors.Add($"Attach.Backends[{b.Service}].{role}: each entry is a server name or a name prefix followed by '*'");
            }
        }
    }

    private static bool IsName(string? name) =>
        !string.IsNullOrEmpty(name) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}

/// <summary>
/// One service's backend in an attached HAProxy. <see cref="PrimaryServers"/> and <see cref="CanaryServers"/> name
/// the servers of each role: exact names (<c>blue1</c>) or name prefixes followed by <c>*</c> (<c>green*</c>).
/// </summary>
/// <param name="Service">The key of the service (the canary's <c>name.namespace</c>).</param>
public sealed record HAProxyAttachment(string Service, string Backend, IReadOnlyList<string> PrimaryServers, IReadOnlyList<string> CanaryServers);

/// <summary>
/// The label values of HAProxy's Prometheus metrics for one service: <c>proxy</c> is <see cref="Backend"/>, and the
/// <c>server</c> label of a canary slot matches <see cref="CanaryServerPattern"/> (a fully anchored regular expression,
/// as PromQL's <c>=~</c> reads it). The metrics layer fills <c>haproxy_backend</c> and <c>haproxy_canary_servers</c>
/// with them.
/// </summary>
public sealed record HAProxyMetricLabels(string Backend, string PrimaryServerPattern, string CanaryServerPattern);

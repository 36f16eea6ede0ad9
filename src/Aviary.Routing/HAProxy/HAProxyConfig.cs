using System.Globalization;
using System.Text;

namespace Aviary.Routing.HAProxy;

/// <summary>One service of a generated configuration: a frontend on its port and a backend with its server slots.</summary>
internal sealed record GeneratedService(string Service, string Backend, int Port);

/// <summary>Where a generated HAProxy keeps its files (all in <see cref="HAProxyOptions.StateDirectory"/>).</summary>
internal sealed record HAProxyPaths(string Directory)
{
    public string Config => Path.Combine(Directory, "haproxy.cfg");
    public string Socket => Path.Combine(Directory, "haproxy.sock");
    public string MasterSocket => Path.Combine(Directory, "master.sock");
    public string PidFile => Path.Combine(Directory, "haproxy.pid");
    public string ServerState => Path.Combine(Directory, "server-state");
    public string Log => Path.Combine(Directory, "haproxy.log");
}

/// <summary>Writes the configuration of a generated HAProxy (generate mode).</summary>
internal static class HAProxyConfig
{
    public const string PrimaryPrefix = "primary";
    public const string CanaryPrefix = "canary";
    public const string MetricsFrontend = "aviary_metrics";

    /// <summary>The frontend of a service's port.</summary>
    public static string FrontendName(string backend) => "fe_" + backend;

    /// <summary>Slot <paramref name="index"/> (from 1) of a role, as <c>server-template</c> names it.</summary>
    public static string SlotName(string prefix, int index) => prefix + index.ToString(CultureInfo.InvariantCulture);

    public static string Render(HAProxyOptions options, HAProxyPaths paths, IEnumerable<GeneratedService> services)
    {
        var slots = options.SlotsPerRole.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line("# Written by Aviary (HAProxy router, generate mode); rewritten whenever a service is added.");
        Line("global");
        // Admin level: the router sets addresses, states and weights of the server slots.
        Line($"  stats socket {paths.Socket} mode 600 level admin");
        Line("  stats timeout 30s");
        // Server states (addresses, weights, ready/drain/maint) survive a reload through this file.
        Line($"  server-state-file {paths.ServerState}");
        Line($"  hard-stop-after {Ms(options.HardStopAfter)}");
        Line();
        Line("defaults");
        Line("  mode http");
        Line("  balance roundrobin");
        Line("  option http-keep-alive");
        Line("  option forwardfor");
        // A request that could not reach an instance is retried, on another instance when there is one.
        Line("  retries 3");
        Line("  option redispatch 1");
        Line("  retry-on conn-failure empty-response");
        Line($"  timeout connect {Ms(options.ConnectTimeout)}");
        Line($"  timeout client {Ms(options.ClientTimeout)}");
        Line($"  timeout server {Ms(options.ServerTimeout)}");
        Line($"  timeout http-request {Ms(options.ClientTimeout)}");
        Line($"  timeout http-keep-alive {Ms(options.KeepAliveTimeout)}");
        Line($"  timeout queue {Ms(options.ConnectTimeout)}");
        Line("  load-server-state-from-file global");
        if (options.MetricsPort is { } metricsPort)
        {
            Line();
            Line($"frontend {MetricsFrontend}");
            Line($"  bind 127.0.0.1:{metricsPort.ToString(CultureInfo.InvariantCulture)}");
            Line("  http-request use-service prometheus-exporter if { path /metrics }");
            Line("  http-request return status 404");
        }
        foreach (var service in services.OrderBy(s => s.Backend, StringComparer.Ordinal))
        {
            Line();
            Line($"# {service.Service}");
            Line($"frontend {FrontendName(service.Backend)}");
            Line($"  bind {Address(options.BindAddress)}:{service.Port.ToString(CultureInfo.InvariantCulture)}");
            Line($"  default_backend {service.Backend}");
            Line();
            Line($"backend {service.Backend}");
            // Free slots wait in maintenance with a placeholder address; the router fills them through the runtime API.
            // (HAProxy 2.6 refuses "set server addr" on a slot declared with a name and "init-addr none": it has no
            // address family yet. A placeholder IP address gives it one.)
            Line($"  server-template {PrimaryPrefix} 1-{slots} 127.0.0.1:1 disabled");
            Line($"  server-template {CanaryPrefix} 1-{slots} 127.0.0.1:1 disabled");
        }
        return text.ToString();
    }

    private static string Ms(TimeSpan value) => ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    // HAProxy reads the port after the last colon, so an IPv6 address needs no brackets.
    private static string Address(string ip) => ip;
}

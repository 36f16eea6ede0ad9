using System.CommandLine;
using Aviary.Kubernetes.Operator;
using Aviary.Kubernetes.Routers;
using Microsoft.Extensions.Logging;

namespace Aviary.Cli.Commands.Operator;

/// <summary><c>aviary operator</c>: the Kubernetes operator, in a cluster or out of it with a kubeconfig.</summary>
internal static class OperatorCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Kubeconfig to use out of cluster (default: in-cluster, else $KUBECONFIG or ~/.kube/config)." };
        var context = new Option<string?>("--context") { Description = "Kubeconfig context (default: the current one)." };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Run the canaries of this namespace only (default: all namespaces)." };
        var listen = new Option<string>("--listen") { Description = "Address of /healthz, /readyz, /metrics and the action API.", DefaultValueFactory = _ => "0.0.0.0:8080" };
        var noElection = new Option<bool>("--no-leader-election") { Description = "Act without a leader Lease (a single replica)." };
        var leaseNs = new Option<string>("--leader-election-namespace") { Description = "Namespace of the leader Lease.", DefaultValueFactory = _ => "aviary" };
        var leaseName = new Option<string>("--lease-name") { Description = "Name of the leader Lease.", DefaultValueFactory = _ => "aviary-leader" };
        var identity = new Option<string?>("--identity") { Description = "This replica's identity in the Lease (default: $POD_NAME, else host and pid)." };
        var metricsServer = CommonOptions.MetricsServer("Prometheus for canaries without spec.metricsServer.");
        var meshProvider = new Option<string>("--mesh-provider")
        {
            Description = "Provider of canaries without spec.provider (Flagger's -mesh-provider): linkerd, istio, gatewayapi:v1, nginx, kubernetes, ….",
            DefaultValueFactory = _ => "istio",
        };
        var ingressClass = new Option<string?>("--ingress-class") { Description = "Ingress class the contour router's HTTPProxy names (Flagger's -ingress-class)." };
        var annotationsPrefix = new Option<string>("--ingress-annotations-prefix")
        {
            Description = "Annotation prefix of the NGINX ingress controller (Flagger's -ingress-annotations-prefix).",
            DefaultValueFactory = _ => KubeRouterOptions.DefaultIngressAnnotationsPrefix,
        };
        var tokenFile = new Option<string?>("--api-token-file") { Description = "Serve the action API (promote, abort, …) to callers with this token." };
        var dashboard = new Option<bool>("--dashboard") { Description = "Serve the web dashboard (off by default): users log in with their own Kubernetes token; RBAC on canaries.flagger.app decides what they see and may do." };
        var dashboardListen = new Option<string>("--dashboard-listen") { Description = "Address of the dashboard.", DefaultValueFactory = _ => "0.0.0.0:8081" };
        var dashboardReadOnly = new Option<bool>("--dashboard-read-only") { Description = "Serve the dashboard without actions: no buttons, and the calls are refused." };
        var qps = new Option<double>("--kube-api-qps") { Description = "Requests per second to the API server (client-side token bucket; 0: no limit).", DefaultValueFactory = _ => new Kubernetes.Client.KubeClientOptions().Qps };
        var burst = new Option<int>("--kube-api-burst") { Description = "Requests allowed at once after a quiet period.", DefaultValueFactory = _ => new Kubernetes.Client.KubeClientOptions().Burst };
        var workers = new Option<int>("--workers") { Description = "Canaries ticking at once (workers of the shared work queue).", DefaultValueFactory = _ => new CanaryControllerOptions().Workers };
        var resync = new Option<string>("--resync-period") { Description = "How often a canary with no rollout under way ticks when nothing it reads changed (a change wakes it at once).", DefaultValueFactory = _ => "5m" };
        var shards = new Option<int>("--shards") { Description = "Split the canaries between replicas into this many shards, one Lease each (1: the leader runs them all).", DefaultValueFactory = _ => 1 };
        var selector = new Option<string?>("--label-selector") { Description = "Run only the canaries with these labels (e.g. team=payments)." };
        var command = new Command("operator", """
            Run the Kubernetes operator: watch Canary, MetricTemplate and AlertProvider (flagger.app/v1beta1), run the same
            scheduler as the local runtime against Deployments/DaemonSets and the mesh's routing objects, write status
            through the status subresource, record Events. Only the holder of the leader Lease acts. Manual actions are the
            annotation aviary.dev/action: promote|abort|retry|pause|resume on the Canary. With --dashboard, the web
            dashboard: a user's token is verified with a TokenReview, each request authorised with a
            SubjectAccessReview (get/list canaries to view, patch or update the canary to act).

            Example:
              aviary operator --kubeconfig ~/.kube/config --metrics-server http://prometheus.istio-system:9090
            """) { kubeconfig, context, ns, listen, noElection, leaseNs, leaseName, identity, metricsServer, meshProvider, ingressClass, annotationsPrefix, tokenFile, dashboard, dashboardListen, dashboardReadOnly, qps, burst, workers, resync, selector, shards };
        command.SetAction(async (parse, ct) =>
        {
            if (!Core.Primitives.GoDuration.TryParse(parse.GetValue(resync), out var resyncPeriod) || resyncPeriod <= TimeSpan.Zero)
            {
                await io.Error.WriteLineAsync($"aviary operator: --resync-period: '{parse.GetValue(resync)}' is not a positive duration (e.g. 5m, 30s)");
                return 2;
            }
            if (parse.GetValue(shards) > 1 && parse.GetValue(noElection))
            {
                await io.Error.WriteLineAsync("aviary operator: --shards needs leader election's Leases: drop --no-leader-election");
                return 2;
            }
            if (parse.GetValue(shards) < 1 || parse.GetValue(workers) < 1 || parse.GetValue(burst) < 1 || double.IsNaN(parse.GetValue(qps)))
            {
                await io.Error.WriteLineAsync("aviary operator: --shards, --workers and --kube-api-burst must be at least 1, --kube-api-qps a number");
                return 2;
            }
            var id = parse.GetValue(identity) ?? Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{Environment.ProcessId}";
            var options = new OperatorOptions
            {
                Kubeconfig = parse.GetValue(kubeconfig),
                Context = parse.GetValue(context),
                Namespace = parse.GetValue(ns),
                Listen = parse.GetValue(listen)!,
                LeaderElection = parse.GetValue(noElection) ? null : new LeaderElectionOptions
                {
                    Namespace = parse.GetValue(leaseNs)!,
                    LeaseName = parse.GetValue(leaseName)!,
                    Identity = id,
                },
                MetricsServer = parse.GetValue(metricsServer),
                MeshProvider = parse.GetValue(meshProvider)!,
                ApiTokenFile = parse.GetValue(tokenFile),
                Dashboard = parse.GetValue(dashboard) ? new Aviary.Dashboard.DashboardOptions { ReadOnly = parse.GetValue(dashboardReadOnly) } : null,
                DashboardListen = parse.GetValue(dashboardListen)!,
                Shards = parse.GetValue(shards),
                Client = new Kubernetes.Client.KubeClientOptions { Qps = parse.GetValue(qps), Burst = parse.GetValue(burst) },
                Controller = new CanaryControllerOptions
                {
                    Workers = parse.GetValue(workers),
                    ResyncPeriod = resyncPeriod,
                    LabelSelector = parse.GetValue(selector),
                },
                Routers = new KubeRouterOptions
                {
                    IngressClass = parse.GetValue(ingressClass),
                    IngressAnnotationsPrefix = parse.GetValue(annotationsPrefix)!,
                },
            };
            using var loggers = LoggerFactory.Create(b => b.AddJsonConsole().SetMinimumLevel(LogLevel.Information));
            try
            {
                await using var host = new OperatorHost(options, time, loggers);
                await host.RunAsync(ct);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException or UnauthorizedAccessException
                                           or Kubernetes.Client.KubeConfigException)
            {
                await io.Error.WriteLineAsync($"aviary operator: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}

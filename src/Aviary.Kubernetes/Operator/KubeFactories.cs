using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Routers;
using Aviary.Kubernetes.Services;
using Aviary.Kubernetes.Workloads;
using Aviary.Routing;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>The workload of a canary by its targetRef kind: Deployment, DaemonSet, or (provider knative) a Knative Service.</summary>
public static class KubeWorkloads
{
    public static IWorkload For(KubeClient client, CanaryPolicy canary, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Aviary.Kubernetes.Workloads");
        var knative = canary.Provider == Providers.Knative;
        return (canary.TargetKind, knative) switch
        {
            ("Deployment", false) => new DeploymentWorkload(client, time, logger),
            ("DaemonSet", false) => new DaemonSetWorkload(client, time, logger),
            ("Service", true) => new KnativeWorkload(client, logger),
            (_, true) => new Unsupported($"spec.targetRef.kind: provider knative needs a Knative Service (serving.knative.dev/v1 Service), not {canary.TargetKind}"),
            _ => new Unsupported($"spec.targetRef.kind: {canary.TargetKind} is not supported by the Kubernetes runtime (Deployment, DaemonSet, or a Knative Service with provider knative)"),
        };
    }
}

/// <summary>
/// The router of a canary by its provider: for <c>kubernetes</c> the Services alone (<see cref="KubernetesServiceRouter"/>);
/// for a mesh or ingress the Services first and then the provider's routing objects (<see cref="ServicesThenMesh"/>);
/// for <c>knative</c> the Knative Service alone (<see cref="KnativeRouter"/>).
/// </summary>
public static class KubeRouters
{
    public static IRouter For(KubeClient client, CanaryPolicy canary, TimeProvider time, ILoggerFactory loggers, KubeRouterOptions? options = null)
    {
        var logger = loggers.CreateLogger("Aviary.Kubernetes.Routers");
        if (canary.Provider == Providers.Kubernetes) return new KubernetesServiceRouter(client, logger);
        var mesh = new KubeRouterFactory(client, options, loggers).Create(canary);
        if (!mesh.Succeeded) return new Unsupported(mesh.Error!);
        // Knative routes to revisions: no apex, -primary or -canary Services.
        return canary.Provider == Providers.Knative ? mesh.Value! : new ServicesThenMesh(new KubernetesServices(client, logger), mesh.Value!);
    }
}

/// <summary>
/// A mesh provider's router: the apex, <c>-primary</c> and <c>-canary</c> Services are reconciled before the routing
/// objects that name them; weights live in the routing objects only. On deletion (<c>revertOnDeletion</c>) the
/// routing objects send everything to the primary Service first, then the apex Service selects the target again.
/// </summary>
public sealed class ServicesThenMesh(KubernetesServices services, IKubeRouter mesh) : IRouter
{
    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var result = await services.ReconcileAsync(canary, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? await mesh.ReconcileAsync(canary, cancellationToken).ConfigureAwait(false) : result;
    }

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        mesh.GetRoutesAsync(canary, cancellationToken);

    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken) =>
        mesh.SetRoutesAsync(canary, weights, cancellationToken);

    public async ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var result = await mesh.FinalizeAsync(canary, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? await services.FinalizeAsync(canary, cancellationToken).ConfigureAwait(false) : result;
    }
}

/// <summary>A workload or router that says clearly what is not supported, at every call.</summary>
internal sealed class Unsupported(string message) : IWorkload, IRouter
{
    private ValueTask<Outcome> Fail() => ValueTask.FromResult(Outcome.Fail(message));

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome<WorkloadState>.Fail(message));
    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome<RouteWeights>.Fail(message));
    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken) => Fail();
    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Fail();
}

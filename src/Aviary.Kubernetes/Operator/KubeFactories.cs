using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>The workload of a canary by its targetRef kind.</summary>
public static class KubeWorkloads
{
    public static IWorkload For(KubeClient client, CanaryPolicy canary, TimeProvider time, ILoggerFactory loggers) =>
        new Unsupported($"targetRef kind {canary.TargetKind} is not supported by the Kubernetes runtime yet");
}

/// <summary>The router of a canary by its provider.</summary>
public static class KubeRouters
{
    public static IRouter For(KubeClient client, CanaryPolicy canary, TimeProvider time, ILoggerFactory loggers) =>
        new Unsupported($"provider '{canary.Provider}' is not supported by the Kubernetes runtime yet");
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

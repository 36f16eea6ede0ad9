using Aviary.Core.Abstractions;

namespace Aviary.Kubernetes.Routers;

/// <summary>
/// A router of the Kubernetes runtime: it writes a mesh's or ingress controller's routing objects (TrafficSplit,
/// HTTPRoute, VirtualService and DestinationRules, a canary Ingress) through the API server and reads the weights back
/// from them. It assumes the apex, <c>-primary</c> and <c>-canary</c> Services exist; it never writes Services.
/// Get one from <see cref="KubeRouterFactory"/>.
/// </summary>
public interface IKubeRouter : IRouter
{
    /// <summary>The provider name it serves, as <see cref="KubeRouterFactory"/> resolved it (e.g. <c>linkerd</c>).</summary>
    string Provider { get; }
}

using System.Text;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// A resource of the API: group, version, kind and the plural name that appears in its URL, and whether its
/// objects live in a namespace. <see cref="KubeResources"/> has the ones Aviary uses; <see cref="ResourceCatalog"/>
/// finds others through discovery.
/// </summary>
/// <param name="Group">API group; empty for the core group (<c>v1</c>).</param>
/// <param name="Version">API version, e.g. <c>v1</c>, <c>v1beta1</c>.</param>
/// <param name="Kind">Kind, e.g. <c>Deployment</c>.</param>
/// <param name="Plural">Resource name in URLs, e.g. <c>deployments</c>.</param>
/// <param name="Namespaced">True when objects live in a namespace.</param>
public sealed record ResourceType(string Group, string Version, string Kind, string Plural, bool Namespaced = true)
{
    /// <summary><c>group/version</c>, or the version alone for the core group (what objects carry as <c>apiVersion</c>).</summary>
    public string ApiVersion => Group.Length == 0 ? Version : Group + "/" + Version;

    /// <summary>The collection's path: <c>/api/v1[/namespaces/{ns}]/{plural}</c> or <c>/apis/{group}/{version}[/namespaces/{ns}]/{plural}</c>.</summary>
    /// <param name="namespace">The namespace; null lists across all namespaces (or a cluster-scoped resource).</param>
    public string CollectionPath(string? @namespace)
    {
        var path = new StringBuilder(Group.Length == 0 ? "/api/" + Version : $"/apis/{Group}/{Version}");
        if (Namespaced && !string.IsNullOrEmpty(@namespace)) path.Append("/namespaces/").Append(Uri.EscapeDataString(@namespace));
        return path.Append('/').Append(Plural).ToString();
    }

    /// <summary>One object's path, with an optional subresource (<c>status</c>, <c>scale</c>).</summary>
    public string ObjectPath(string? @namespace, string name, string? subresource = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Namespaced && string.IsNullOrEmpty(@namespace))
            throw new ArgumentException($"{Plural}.{Group} objects live in a namespace: give one for '{name}'", nameof(@namespace));
        var path = CollectionPath(Namespaced ? @namespace : null) + "/" + Uri.EscapeDataString(name);
        return subresource is null ? path : path + "/" + subresource;
    }

    /// <summary>This resource in another version of the same group (e.g. HTTPRoute v1 instead of v1beta1).</summary>
    public ResourceType WithVersion(string version) => this with { Version = version };

    public override string ToString() => Group.Length == 0 ? $"{Plural}/{Version}" : $"{Plural}.{Group}/{Version}";
}

/// <summary>
/// The resources Aviary reads and writes, so that no discovery request is needed for them. Several versions exist
/// for the mesh objects; the property names the one Flagger writes by default, and <see cref="Find"/> knows all.
/// </summary>
public static class KubeResources
{
    public static ResourceType Namespaces { get; } = new("", "v1", "Namespace", "namespaces", Namespaced: false);
    public static ResourceType Pods { get; } = new("", "v1", "Pod", "pods");
    public static ResourceType Services { get; } = new("", "v1", "Service", "services");
    public static ResourceType ConfigMaps { get; } = new("", "v1", "ConfigMap", "configmaps");
    public static ResourceType Secrets { get; } = new("", "v1", "Secret", "secrets");
    public static ResourceType ServiceAccounts { get; } = new("", "v1", "ServiceAccount", "serviceaccounts");
    public static ResourceType Endpoints { get; } = new("", "v1", "Endpoints", "endpoints");

    /// <summary>core/v1 Events (what Flagger records and <c>kubectl describe</c> shows).</summary>
    public static ResourceType Events { get; } = new("", "v1", "Event", "events");

    public static ResourceType Deployments { get; } = new("apps", "v1", "Deployment", "deployments");
    public static ResourceType DaemonSets { get; } = new("apps", "v1", "DaemonSet", "daemonsets");
    public static ResourceType ReplicaSets { get; } = new("apps", "v1", "ReplicaSet", "replicasets");
    public static ResourceType Leases { get; } = new("coordination.k8s.io", "v1", "Lease", "leases");

    /// <summary>autoscaling/v2beta2 (Kubernetes 1.12–1.25); <see cref="Find"/> also knows v1 and v2.</summary>
    public static ResourceType HorizontalPodAutoscalers { get; } = new("autoscaling", "v2beta2", "HorizontalPodAutoscaler", "horizontalpodautoscalers");

    public static ResourceType Ingresses { get; } = new("networking.k8s.io", "v1", "Ingress", "ingresses");
    public static ResourceType CustomResourceDefinitions { get; } = new("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", Namespaced: false);

    public static ResourceType Canaries { get; } = new("flagger.app", "v1beta1", "Canary", "canaries");
    public static ResourceType MetricTemplates { get; } = new("flagger.app", "v1beta1", "MetricTemplate", "metrictemplates");
    public static ResourceType AlertProviders { get; } = new("flagger.app", "v1beta1", "AlertProvider", "alertproviders");

    /// <summary>SMI TrafficSplit v1alpha2 (Linkerd's); <see cref="Find"/> also knows v1alpha1 and v1alpha3.</summary>
    public static ResourceType TrafficSplits { get; } = new("split.smi-spec.io", "v1alpha2", "TrafficSplit", "trafficsplits");

    /// <summary>Gateway API HTTPRoute v1beta1; <see cref="Find"/> also knows v1.</summary>
    public static ResourceType HttpRoutes { get; } = new("gateway.networking.k8s.io", "v1beta1", "HTTPRoute", "httproutes");

    /// <summary>Gateway API GRPCRoute v1 (the first version of the Standard channel).</summary>
    public static ResourceType GrpcRoutes { get; } = new("gateway.networking.k8s.io", "v1", "GRPCRoute", "grpcroutes");

    public static ResourceType Gateways { get; } = new("gateway.networking.k8s.io", "v1beta1", "Gateway", "gateways");

    /// <summary>Istio VirtualService v1beta1; <see cref="Find"/> also knows v1alpha3.</summary>
    public static ResourceType VirtualServices { get; } = new("networking.istio.io", "v1beta1", "VirtualService", "virtualservices");

    /// <summary>Istio DestinationRule v1beta1; <see cref="Find"/> also knows v1alpha3.</summary>
    public static ResourceType DestinationRules { get; } = new("networking.istio.io", "v1beta1", "DestinationRule", "destinationrules");

    /// <summary>Traefik's weighted TraefikService (<c>traefik.io/v1alpha1</c>, the group Flagger writes).</summary>
    public static ResourceType TraefikServices { get; } = new("traefik.io", "v1alpha1", "TraefikService", "traefikservices");

    /// <summary>APISIX's ApisixRoute (<c>apisix.apache.org/v2</c>).</summary>
    public static ResourceType ApisixRoutes { get; } = new("apisix.apache.org", "v2", "ApisixRoute", "apisixroutes");

    /// <summary>Contour's <c>HTTPProxy</c> (<c>projectcontour.io/v1</c>).</summary>
    public static ResourceType HttpProxies { get; } = new("projectcontour.io", "v1", "HTTPProxy", "httpproxies");

    /// <summary>Gloo Edge's <c>RouteTable</c> (<c>gateway.solo.io/v1</c>).</summary>
    public static ResourceType RouteTables { get; } = new("gateway.solo.io", "v1", "RouteTable", "routetables");

    /// <summary>Gloo Edge's <c>Upstream</c> (<c>gloo.solo.io/v1</c>).</summary>
    public static ResourceType Upstreams { get; } = new("gloo.solo.io", "v1", "Upstream", "upstreams");

    /// <summary>Kuma's cluster-scoped <c>TrafficRoute</c> (<c>kuma.io/v1alpha1</c>).</summary>
    public static ResourceType TrafficRoutes { get; } = new("kuma.io", "v1alpha1", "TrafficRoute", "trafficroutes", Namespaced: false);

    /// <summary>Knative Serving's <c>Service</c> (<c>serving.knative.dev/v1</c>).</summary>
    public static ResourceType KnativeServices { get; } = new("serving.knative.dev", "v1", "Service", "services");

    /// <summary>Knative Serving's <c>Revision</c> (<c>serving.knative.dev/v1</c>).</summary>
    public static ResourceType KnativeRevisions { get; } = new("serving.knative.dev", "v1", "Revision", "revisions");

    /// <summary>KEDA's <c>ScaledObject</c> (<c>keda.sh/v1alpha1</c>).</summary>
    public static ResourceType ScaledObjects { get; } = new("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects");

    /// <summary>Every built-in entry, all versions.</summary>
    public static IReadOnlyList<ResourceType> All { get; } =
    [
        Namespaces, Pods, Services, ConfigMaps, Secrets, ServiceAccounts, Endpoints, Events,
        Deployments, DaemonSets, ReplicaSets, Leases,
        HorizontalPodAutoscalers, HorizontalPodAutoscalers.WithVersion("v1"), HorizontalPodAutoscalers.WithVersion("v2"),
        Ingresses, CustomResourceDefinitions,
        Canaries, MetricTemplates, AlertProviders,
        TrafficSplits.WithVersion("v1alpha1"), TrafficSplits, TrafficSplits.WithVersion("v1alpha3"),
        HttpRoutes, HttpRoutes.WithVersion("v1"), GrpcRoutes, Gateways, Gateways.WithVersion("v1"), TraefikServices, ApisixRoutes, HttpProxies, RouteTables, Upstreams, TrafficRoutes, KnativeServices, KnativeRevisions, ScaledObjects,
        VirtualServices, VirtualServices.WithVersion("v1alpha3"), DestinationRules, DestinationRules.WithVersion("v1alpha3"),
    ];

    /// <summary>The built-in entry for <paramref name="apiVersion"/> (<c>group/version</c> or <c>v1</c>) and <paramref name="kind"/>, or null.</summary>
    public static ResourceType? Find(string apiVersion, string kind)
    {
        ArgumentNullException.ThrowIfNull(apiVersion);
        ArgumentNullException.ThrowIfNull(kind);
        foreach (var r in All)
            if (r.Kind == kind && r.ApiVersion == apiVersion) return r;
        return null;
    }
}

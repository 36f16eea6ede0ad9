using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.Routing;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Routers;

/// <summary>
/// What a provider's router needs of the cluster besides the Canary (the main Ingress for NGINX and Skipper, the user's
/// ApisixRoute, the target Knative Service, Gloo's backend Services), created in a test's namespace for a canary, with
/// the Canary object itself (so owner references carry its uid), and the canary placed in that namespace.
/// </summary>
internal static class RouterFixtures
{
    /// <summary>The name of the main Ingress of <paramref name="canary"/> (NGINX, Skipper): <c>spec.ingressRef</c>, else the service's.</summary>
    public static string IngressOf(CanaryPolicy canary) => canary.Manifest.Spec.IngressRef?.Name is { Length: > 0 } name ? name : canary.ServiceName;

    /// <summary>The name of the user's ApisixRoute of <paramref name="canary"/>: <c>spec.routeRef</c>, else the service's.</summary>
    public static string RouteOf(CanaryPolicy canary) => canary.Manifest.Spec.RouteRef?.Name is { Length: > 0 } name ? name : canary.ServiceName;

    /// <summary>Creates what <paramref name="provider"/> needs for <paramref name="canary"/> in <paramref name="ns"/>, then the Canary; its uid.</summary>
    public static async Task<string> ApplyAsync(KubeApiServer server, string ns, string provider, CanaryPolicy canary)
    {
        var port = canary.ServicePort ?? 80;
        if (provider is "nginx" or "skipper")
        {
            await server.ApplyAsync($"""
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: {IngressOf(canary)}
                  namespace: {ns}
                  annotations:
                    kubernetes.io/ingress.class: {provider}
                spec:
                  rules:
                  - host: app.example.com
                    http:
                      paths:
                      - path: /
                        pathType: Prefix
                        backend:
                          service:
                            name: {canary.ServiceName}
                            port:
                              number: {port}
                """);
        }
        if (provider == "apisix")
        {
            // The user's route to the apex service; the router copies it as <route>-<service>-canary.
            await server.ApplyAsync($"""
                apiVersion: apisix.apache.org/v2
                kind: ApisixRoute
                metadata:
                  name: {RouteOf(canary)}
                  namespace: {ns}
                spec:
                  http:
                  - name: {TestMeshSeries.ApisixRule}
                    match:
                      hosts: [app.example.com]
                      paths: ["/*"]
                    backends:
                    - serviceName: {canary.ServiceName}
                      servicePort: {port}
                """);
        }
        if (provider == "apisix")
        {
            // The pods of each version by address: APISIX's series name the upstream node that answered.
            foreach (var (role, ip) in new[] { ("primary", TestMeshSeries.ApisixNode(BackendRole.Primary)), ("canary", TestMeshSeries.ApisixNode(BackendRole.Canary)) })
            {
                await server.ApplyAsync($"""
                    apiVersion: v1
                    kind: Endpoints
                    metadata:
                      name: {canary.ServiceName}-{role}
                      namespace: {ns}
                    subsets:
                    - addresses:
                      - ip: {ip}
                      ports:
                      - port: {port}
                    """);
            }
        }
        if (provider == "kubernetes")
        {
            // The Services select the target's pods by its labels; the target exists before the Canary.
            var kind = canary.TargetKind == "DaemonSet" ? "DaemonSet" : "Deployment";
            await server.ApplyAsync($"""
                apiVersion: apps/v1
                kind: {kind}
                metadata:
                  name: {canary.TargetName}
                  namespace: {ns}
                spec:
                  selector:
                    matchLabels:
                      app: {canary.TargetName}
                  template:
                    metadata:
                      labels:
                        app: {canary.TargetName}
                    spec:
                      containers:
                      - name: app
                        image: ghcr.io/stefanprodan/podinfo:6.0.0
                        ports:
                        - containerPort: {port}
                """);
        }
        if (provider == "knative")
        {
            // The routing object is the target Knative Service, with a revision Knative created.
            await TestKnative.CreateServiceAsync(server, ns, canary.TargetName);
        }
        if (provider == "kuma")
        {
            // TrafficRoutes are cluster-scoped and named after the apex: an earlier test's may still be there.
            await server.KubectlAsync("delete", "trafficroutes.kuma.io", canary.ServiceName, "--ignore-not-found");
        }
        if (provider == "gloo" && canary.Manifest.Spec.UpstreamRef is { } upstream)
        {
            // The Upstream whose settings the router copies (Flagger's e2e test keeps one in gloo-system).
            var upstreamNamespace = string.IsNullOrEmpty(upstream.Namespace) ? ns : upstream.Namespace;
            await server.ApplyAsync($"""
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: {upstreamNamespace}
                ---
                apiVersion: gloo.solo.io/v1
                kind: Upstream
                metadata:
                  name: {upstream.Name}
                  namespace: {upstreamNamespace}
                spec:
                  loadBalancerConfig:
                    roundRobin: {"{}"}
                  connectionConfig:
                    maxRequestsPerConnection: 10
                  kube:
                    serviceName: config
                    serviceNamespace: {upstreamNamespace}
                    servicePort: 80
                """);
        }
        if (provider == "gloo")
        {
            // Gloo's Upstreams are made from the -primary and -canary Services (the operator reconciles them first).
            foreach (var role in new[] { "primary", "canary" })
            {
                await server.ApplyAsync($"""
                    apiVersion: v1
                    kind: Service
                    metadata:
                      name: {canary.ServiceName}-{role}
                      namespace: {ns}
                    spec:
                      selector:
                        app: {canary.TargetName}-{role}
                      ports:
                      - port: {port}
                    """);
            }
        }
        await server.ApplyAsync($"""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata:
              name: {canary.Name}
              namespace: {ns}
            spec:
              provider: {provider}
              targetRef:
                apiVersion: apps/v1
                kind: Deployment
                name: {canary.TargetName}
              service:
                port: {port}
              analysis:
                interval: 1m
                threshold: 5
                stepWeight: 10
                maxWeight: 50
            """);
        var uid = (await server.KubectlAsync("get", "canary", canary.Name, "-n", ns, "-o", "jsonpath={.metadata.uid}")).Trim();
        Assert.False(string.IsNullOrEmpty(uid));
        return uid;
    }

    /// <summary>
    /// <paramref name="canary"/> as it lives in <paramref name="ns"/> (with the Canary's <paramref name="uid"/>), given what
    /// <paramref name="provider"/> requires that it does not say: <c>ingressRef</c>, <c>routeRef</c>, <c>gatewayRefs</c>.
    /// </summary>
    public static CanaryPolicy Place(CanaryPolicy canary, string ns, string uid, string provider, string? routeKind = null)
    {
        var spec = canary.Manifest.Spec;
        if (provider is "nginx" or "skipper" && spec.IngressRef is null)
            spec = spec with { IngressRef = new IngressReference { ApiVersion = "networking.k8s.io/v1", Kind = "Ingress", Name = canary.ServiceName } };
        if (provider == "apisix" && spec.RouteRef is null)
            spec = spec with { RouteRef = new RouteReference { ApiVersion = "apisix.apache.org/v2", Kind = "ApisixRoute", Name = canary.ServiceName } };
        if (provider.StartsWith("gatewayapi", StringComparison.Ordinal))
        {
            var service = spec.Service ?? new CanaryService();
            spec = spec with
            {
                Service = service with
                {
                    GatewayRefs = service.GatewayRefs is { Count: > 0 } refs ? refs : [new ParentReference { Name = "public", Namespace = "edge" }],
                    RouteKind = routeKind ?? service.RouteKind,
                },
            };
        }
        return canary with
        {
            Namespace = ns,
            Provider = provider,
            Manifest = canary.Manifest with { Metadata = canary.Manifest.Metadata with { Namespace = ns, Uid = uid }, Spec = spec },
        };
    }

    /// <summary>The test mesh's target for the placed <paramref name="canary"/> of <paramref name="provider"/>.</summary>
    public static TestMeshTarget Target(string provider, CanaryPolicy canary) =>
        TestMeshTarget.ForProvider(provider, canary.Namespace, canary.ServiceName, ingress: provider is "nginx" or "skipper" ? IngressOf(canary) : null,
            route: provider == "apisix" ? RouteOf(canary) : null, workload: provider == "knative" ? canary.TargetName : null) with
        {
            RegistryKey = canary.Id,
            Port = canary.ServicePort ?? 80,
        };
}

using System.Net;
using System.Text.Json.Nodes;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Harness;

[Collection(KubeCollection.Name)]
public sealed class KubeApiServerTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task StartAsync_RealServer_ServesVersion120()
    {
        var (status, body) = await Server.RequestAsync(HttpMethod.Get, "/version");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("v1.20.2", JsonNode.Parse(body)!["gitVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task StartAsync_DefaultCrds_AreEstablished()
    {
        var names = await Server.KubectlAsync("get", "crd", "-o", "name");
        foreach (var crd in new[]
        {
            "canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app", "trafficsplits.split.smi-spec.io",
            "httproutes.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
            "virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
        })
        {
            Assert.Contains("customresourcedefinition.apiextensions.k8s.io/" + crd, names, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ApplyAsync_YamlText_CreatesObjectsWithDebiansKubectl()
    {
        var version = await Server.KubectlAsync("version", "--client", "--short");
        Assert.Contains("v1.20.2", version, StringComparison.Ordinal);
        var ns = await Server.CreateNamespaceAsync("apply");
        await Server.ApplyAsync($"""
            apiVersion: v1
            kind: ConfigMap
            metadata: {"{"}name: settings, namespace: {ns}{"}"}
            data: {"{"}a: "1"{"}"}
            """);
        var value = await Server.KubectlAsync("get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.a}");
        Assert.Equal("1", value);
    }

    [Fact]
    public async Task MarkDeploymentReadyAsync_Deployment_WritesAvailableStatus()
    {
        var ns = await Server.CreateNamespaceAsync("ready");
        await Server.ApplyAsync(Deployment(ns, "podinfo", replicas: 3));
        await Server.MarkDeploymentReadyAsync(ns, "podinfo");
        var (_, body) = await Server.RequestAsync(HttpMethod.Get, $"/apis/apps/v1/namespaces/{ns}/deployments/podinfo");
        var status = JsonNode.Parse(body)!["status"]!;
        Assert.Equal(3, status["readyReplicas"]!.GetValue<int>());
        Assert.Equal(3, status["availableReplicas"]!.GetValue<int>());
        Assert.Equal(1, status["observedGeneration"]!.GetValue<long>());
        // kubectl's own readiness check agrees (what `kubectl rollout status` reads).
        var rollout = await Server.KubectlAsync("rollout", "status", "deployment/podinfo", "-n", ns, "--timeout=5s");
        Assert.Contains("successfully rolled out", rollout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_NobodyToken_IsAuthenticatedButForbidden()
    {
        var kubeconfig = Server.WriteKubeconfig(KubeTestUser.Nobody);
        var result = await Server.RunKubectlAsync(["get", "configmaps", "-n", "default"], kubeconfig: kubeconfig);
        Assert.False(result.Succeeded);
        Assert.Contains("forbidden", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("User \"nobody\"", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateServiceAccountTokenAsync_BoundRole_GrantsWhatRbacAllows()
    {
        var ns = await Server.CreateNamespaceAsync("sa");
        var token = await Server.CreateServiceAccountTokenAsync(ns, "reader");
        await Server.ApplyAsync($"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {"{"}name: read-configmaps, namespace: {ns}{"}"}
            rules: [{"{"}apiGroups: [""], resources: [configmaps], verbs: [get, list]{"}"}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {"{"}name: read-configmaps, namespace: {ns}{"}"}
            roleRef: {"{"}apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-configmaps{"}"}
            subjects: [{"{"}kind: ServiceAccount, name: reader, namespace: {ns}{"}"}]
            """);
        var kubeconfig = Server.WriteKubeconfig("reader", token: token);
        Assert.True((await Server.RunKubectlAsync(["get", "configmaps", "-n", ns], kubeconfig: kubeconfig)).Succeeded);
        var denied = await Server.RunKubectlAsync(["get", "secrets", "-n", ns], kubeconfig: kubeconfig);
        Assert.Contains($"system:serviceaccount:{ns}:reader", denied.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IssueClientCertificateAsync_Certificate_AuthenticatesAsItsCommonName()
    {
        var certificate = await Server.IssueClientCertificateAsync("alice", ["devs"], KubeKeyType.Ec);
        var kubeconfig = Server.WriteKubeconfig("alice", clientCertificate: certificate);
        var denied = await Server.RunKubectlAsync(["get", "pods", "-n", "default"], kubeconfig: kubeconfig);
        Assert.Contains("User \"alice\"", denied.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompactEtcdAsync_AfterWrites_ReturnsTheCompactedRevision()
    {
        var ns = await Server.CreateNamespaceAsync("compact");
        var first = await Server.CompactEtcdAsync();
        await Server.ApplyAsync($"{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"c\",\"namespace\":\"{ns}\"}}}}\n");
        var second = await Server.CompactEtcdAsync();
        Assert.True(second > first);
    }

    internal static string Deployment(string ns, string name, int replicas = 1) => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          namespace: {ns}
          labels:
            app: {name}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
                - name: app
                  image: ghcr.io/stefanprodan/podinfo:6.0.0
                  ports:
                    - containerPort: 9898
        """;
}

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The operator in these tests is the ServiceAccount of <c>deploy/kubernetes/rbac.yaml</c>, with a real
/// ServiceAccount token: not admin, and bound only to the ClusterRole of <c>deploy/</c>. The rollouts of the other
/// operator tests therefore prove that ClusterRole sufficient; these tests prove the identity and its limits.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class RbacTests(OperatorCluster cluster)
{
    [Fact]
    public async Task OperatorKubeconfig_IsTheServiceAccountOfDeploy_NotAdmin()
    {
        // A request outside the ClusterRole is refused, and the refusal names the user the API server saw.
        var pods = await cluster.Server.RunKubectlAsync(["get", "pods", "-n", "default"], kubeconfig: cluster.OperatorKubeconfig);
        Assert.False(pods.Succeeded, pods.ToString());
        Assert.Contains($"User \"{OperatorCluster.OperatorUser}\" cannot list resource \"pods\"", pods.Stderr, StringComparison.Ordinal);

        foreach (var denied in new[] { new[] { "create", "namespaces" }, ["delete", "customresourcedefinitions"], ["create", "clusterroles"], ["*", "*"] })
        {
            var answer = await cluster.Server.RunKubectlAsync(["auth", "can-i", .. denied], kubeconfig: cluster.OperatorKubeconfig);
            Assert.Equal("no", answer.Stdout.Trim());
        }
    }

    [Fact]
    public async Task ClusterRole_LetsTheOperatorWatchCanariesInAllNamespaces()
    {
        foreach (var resource in new[] { "canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app" })
        {
            var answer = await cluster.Server.RunKubectlAsync(["auth", "can-i", "watch", resource, "--all-namespaces"], kubeconfig: cluster.OperatorKubeconfig);
            Assert.True(answer.Stdout.Trim() == "yes", $"the operator cannot watch {resource} in all namespaces: {answer}");
        }
    }

    [Theory]
    [InlineData("watch", "canaries.flagger.app")]
    [InlineData("update", "canaries.flagger.app/status")]
    [InlineData("update", "canaries.flagger.app/finalizers")]
    [InlineData("get", "metrictemplates.flagger.app")]
    [InlineData("get", "alertproviders.flagger.app")]
    [InlineData("create", "deployments.apps")]
    [InlineData("patch", "deployments.apps")]
    [InlineData("update", "daemonsets.apps")]
    [InlineData("create", "services")]
    [InlineData("create", "configmaps")]
    [InlineData("get", "secrets")]
    [InlineData("create", "events")]
    [InlineData("patch", "events")]
    [InlineData("list", "events")]
    [InlineData("create", "tokenreviews.authentication.k8s.io")]
    [InlineData("create", "subjectaccessreviews.authorization.k8s.io")]
    [InlineData("update", "leases.coordination.k8s.io")]
    [InlineData("create", "horizontalpodautoscalers.autoscaling")]
    [InlineData("update", "trafficsplits.split.smi-spec.io")]
    [InlineData("update", "httproutes.gateway.networking.k8s.io")]
    [InlineData("update", "virtualservices.networking.istio.io")]
    [InlineData("update", "destinationrules.networking.istio.io")]
    [InlineData("update", "ingresses.networking.k8s.io")]
    public async Task ClusterRole_GrantsWhatTheOperatorDoes_InAnyNamespace(string verb, string resource)
    {
        var answer = await cluster.Server.RunKubectlAsync(["auth", "can-i", verb, resource, "-n", "some-team"], kubeconfig: cluster.OperatorKubeconfig);
        Assert.True(answer.Stdout.Trim() == "yes", $"the operator cannot {verb} {resource}: {answer}");
    }
}

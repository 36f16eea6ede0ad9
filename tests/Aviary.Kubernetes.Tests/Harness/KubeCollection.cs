using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Harness;

/// <summary>One real kube-apiserver shared by every test class in the "kube" collection (tests isolate by namespace).</summary>
[CollectionDefinition(Name)]
public sealed class KubeCollection : ICollectionFixture<KubeApiServerFixture>
{
    public const string Name = "kube";
}

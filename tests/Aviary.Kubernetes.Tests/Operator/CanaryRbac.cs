namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The two users of the RBAC tests of the dashboard and the CLI, in one namespace: ServiceAccount <c>viewer</c> may
/// get, list and watch canaries (and their events); <c>releaser</c> may also patch them.
/// </summary>
internal static class CanaryRbac
{
    public static string Yaml(string ns) => $"""
        apiVersion: v1
        kind: ServiceAccount
        metadata: {"{"}name: viewer, namespace: {ns}{"}"}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {"{"}name: releaser, namespace: {ns}{"}"}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {"{"}name: canary-viewer, namespace: {ns}{"}"}
        rules:
          - {"{"}apiGroups: [flagger.app], resources: [canaries], verbs: [get, list, watch]{"}"}
          - {"{"}apiGroups: [""], resources: [events], verbs: [get, list, watch]{"}"}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {"{"}name: canary-releaser, namespace: {ns}{"}"}
        rules:
          - {"{"}apiGroups: [flagger.app], resources: [canaries], verbs: [get, list, watch, patch]{"}"}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {"{"}name: viewer, namespace: {ns}{"}"}
        roleRef: {"{"}apiGroup: rbac.authorization.k8s.io, kind: Role, name: canary-viewer{"}"}
        subjects: [{"{"}kind: ServiceAccount, name: viewer, namespace: {ns}{"}"}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {"{"}name: releaser, namespace: {ns}{"}"}
        roleRef: {"{"}apiGroup: rbac.authorization.k8s.io, kind: Role, name: canary-releaser{"}"}
        subjects: [{"{"}kind: ServiceAccount, name: releaser, namespace: {ns}{"}"}]
        """;
}

namespace Aviary.TestKit;

/// <summary>
/// A user of the test API server's static token file. The API server reads the file at start, so every token user
/// is declared up front (<see cref="KubeApiServerOptions.Users"/>); for ServiceAccounts, real tokens can also be
/// issued later with <see cref="KubeApiServer.CreateServiceAccountTokenAsync"/>.
/// </summary>
/// <param name="Name">The user name RBAC subjects of kind User match.</param>
/// <param name="Token">The bearer token.</param>
/// <param name="Groups">Groups RBAC subjects of kind Group match (every user is also in <c>system:authenticated</c>).</param>
public sealed record KubeTestUser(string Name, string Token, IReadOnlyList<string> Groups)
{
    /// <summary>
    /// A token user that RBAC takes for ServiceAccount <paramref name="name"/> in <paramref name="namespace"/>:
    /// <c>system:serviceaccount:{ns}:{name}</c> in <c>system:serviceaccounts</c> and <c>system:serviceaccounts:{ns}</c>,
    /// which is what subjects of kind ServiceAccount match.
    /// </summary>
    public static KubeTestUser ServiceAccount(string @namespace, string name, string? token = null) =>
        new($"system:serviceaccount:{@namespace}:{name}", token ?? $"sa-{@namespace}-{name}-{Guid.NewGuid():N}",
            ["system:serviceaccounts", "system:serviceaccounts:" + @namespace]);

    /// <summary>Aviary's operator as deployed (ServiceAccount <c>aviary</c> in namespace <c>aviary</c>).</summary>
    public static KubeTestUser AviaryOperator { get; } = ServiceAccount("aviary", "aviary", "aviary-operator-token");

    /// <summary>A user with no permissions beyond what every authenticated user has (for RBAC denial tests).</summary>
    public static KubeTestUser Nobody { get; } = new("nobody", "nobody-token", []);

    // Tokens are not shown in test output.
    public override string ToString() => $"{Name} ({string.Join(", ", Groups)})";
}

/// <summary>How <see cref="KubeApiServer.StartAsync"/> sets up the API server.</summary>
public sealed record KubeApiServerOptions
{
    /// <summary>
    /// CRD files (or folders of them) installed after start and waited for until Established. Default
    /// <see cref="KubeApiServer.DefaultCrdFiles"/>: every file of the shared <c>schemas/crds-for-k8s-1.20/</c>
    /// (Flagger's Canary, MetricTemplate, AlertProvider; SMI TrafficSplit; Gateway API HTTPRoute and Gateway; Istio
    /// VirtualService and DestinationRule). An empty list installs none.
    /// </summary>
    public IReadOnlyList<string>? CrdFiles { get; init; }

    /// <summary>
    /// Token users besides the admin. Default: <see cref="KubeTestUser.AviaryOperator"/> and
    /// <see cref="KubeTestUser.Nobody"/>.
    /// </summary>
    public IReadOnlyList<KubeTestUser> Users { get; init; } = [KubeTestUser.AviaryOperator, KubeTestUser.Nobody];

    /// <summary>More kube-apiserver flags (<c>--name=value</c>), appended after the harness' own.</summary>
    public IReadOnlyList<string> ExtraApiServerArgs { get; init; } = [];

    /// <summary>How long to wait for etcd and <c>/readyz</c>. Default 60 s (it takes about 3 s).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>What a kubectl run printed and how it ended.</summary>
public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"exit {ExitCode}: {Stderr}{Stdout}";
}

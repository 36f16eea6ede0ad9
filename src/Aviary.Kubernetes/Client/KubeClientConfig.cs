using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// Where the API server is and how to trust and authenticate to it: from a kubeconfig file
/// (<see cref="FromKubeconfig"/>), from inside a Pod (<see cref="InCluster"/>), or either as client-go chooses
/// (<see cref="Default"/>). Immutable; <see cref="ToString"/> never shows a credential.
/// </summary>
public sealed record KubeClientConfig
{
    /// <summary>The default folder of a Pod's ServiceAccount credentials.</summary>
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The API server's base URL, e.g. <c>https://10.96.0.1:443</c>.</summary>
    public required Uri Server { get; init; }

    /// <summary>
    /// The CAs the server's certificate must chain to. When set, only these are trusted (not the system's);
    /// when empty, the system's trust store is used.
    /// </summary>
    public IReadOnlyList<X509Certificate2> CertificateAuthorities { get; init; } = [];

    /// <summary>Accept any server certificate (kubeconfig <c>insecure-skip-tls-verify</c>). Default false.</summary>
    public bool InsecureSkipTlsVerify { get; init; }

    /// <summary>The name the server's certificate must carry, when it is not the server URL's host (kubeconfig <c>tls-server-name</c>).</summary>
    public string? TlsServerName { get; init; }

    /// <summary>Bearer token, token file, client certificate and/or basic auth.</summary>
    public KubeCredentials Credentials { get; init; } = KubeCredentials.None;

    /// <summary>The namespace of the context (or the Pod's); <c>default</c> when none is set.</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>Where this came from, for messages (e.g. <c>kubeconfig /root/.kube/config, context kind</c>).</summary>
    public string Source { get; init; } = "explicit";

    /// <summary>
    /// Reads a kubeconfig: <paramref name="path"/> (several separated by ':' are merged as kubectl does: the first
    /// file that names a cluster, user or context wins, and the first current-context), else <c>$KUBECONFIG</c>, else
    /// <c>~/.kube/config</c>. Uses <paramref name="context"/>, or the current context.
    /// </summary>
    /// <exception cref="KubeConfigException">The file is missing or invalid, or uses what this client does not support (exec, auth-provider).</exception>
    public static KubeClientConfig FromKubeconfig(string? path = null, string? context = null, Func<string, string?>? environment = null) =>
        KubeconfigLoader.Load(path, context, environment ?? Environment.GetEnvironmentVariable);

    /// <summary>Reads kubeconfig text (relative file paths in it resolve against <paramref name="directory"/>).</summary>
    public static KubeClientConfig FromKubeconfigText(string yaml, string? context = null, string? directory = null) =>
        KubeconfigLoader.LoadText(yaml, context, directory ?? Directory.GetCurrentDirectory());

    /// <summary>
    /// The configuration of a Pod: <c>https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT</c>, trusting only
    /// <c>ca.crt</c>, authenticated by the <c>token</c> file (re-read as it rotates) in the namespace of the
    /// <c>namespace</c> file, all in <paramref name="serviceAccountDirectory"/> (default <see cref="ServiceAccountDirectory"/>).
    /// </summary>
    /// <exception cref="KubeConfigException">Not in a cluster (variables or files missing).</exception>
    public static KubeClientConfig InCluster(string? serviceAccountDirectory = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var dir = serviceAccountDirectory ?? ServiceAccountDirectory;
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        var problems = new List<string>();
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
            problems.Add("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (they are in a Pod)");
        var tokenPath = Path.Combine(dir, "token");
        var caPath = Path.Combine(dir, "ca.crt");
        if (!File.Exists(tokenPath)) problems.Add($"{tokenPath} does not exist");
        if (!File.Exists(caPath)) problems.Add($"{caPath} does not exist");
        if (problems.Count > 0) throw new KubeConfigException("not running in a cluster: " + string.Join("; ", problems));
        var ns = File.Exists(Path.Combine(dir, "namespace")) ? File.ReadAllText(Path.Combine(dir, "namespace")).Trim() : "";
        var hostPart = host!.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? "[" + host + "]" : host;
        if (!Uri.TryCreate($"https://{hostPart}:{port}", UriKind.Absolute, out var server))
            throw new KubeConfigException($"KUBERNETES_SERVICE_HOST/PORT do not make a URL: {host}:{port}");
        return new KubeClientConfig
        {
            Server = server,
            CertificateAuthorities = KubeconfigLoader.ReadCertificates(File.ReadAllText(caPath), caPath),
            Credentials = KubeCredentials.FromTokenFile(tokenPath),
            Namespace = ns.Length > 0 ? ns : "default",
            Source = "in-cluster (" + dir + ")",
        };
    }

    /// <summary>
    /// client-go's order: an explicit <paramref name="kubeconfigPath"/>; else <c>$KUBECONFIG</c>; else in-cluster when
    /// <c>KUBERNETES_SERVICE_HOST</c> is set; else <c>~/.kube/config</c>.
    /// </summary>
    public static KubeClientConfig Default(string? kubeconfigPath = null, string? context = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrEmpty(kubeconfigPath) || !string.IsNullOrEmpty(environment("KUBECONFIG")))
            return FromKubeconfig(kubeconfigPath, context, environment);
        if (!string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST"))) return InCluster(environment: environment);
        return FromKubeconfig(null, context, environment);
    }

    public override string ToString()
    {
        var text = new StringBuilder().Append(Server).Append(" (").Append(Source).Append("; ");
        text.Append(InsecureSkipTlsVerify ? "TLS not verified" : CertificateAuthorities.Count > 0 ? "trusting its CA only" : "system trust");
        return text.Append("; ").Append(Credentials).Append("; namespace ").Append(Namespace).Append(')').ToString();
    }
}

/// <summary>
/// How requests authenticate: a bearer token (inline or a file re-read as it rotates), a client certificate (with
/// its private key), basic auth, or a combination the kubeconfig gives. Never shows a secret in <see cref="ToString"/>.
/// </summary>
public sealed record KubeCredentials
{
    public static KubeCredentials None { get; } = new();

    /// <summary>A bearer token.</summary>
    public string? Token { get; init; }

    /// <summary>A file holding the bearer token; re-read every <see cref="KubeClientOptions.TokenRefreshInterval"/>.</summary>
    public string? TokenFile { get; init; }

    /// <summary>A client certificate with its private key (TLS client authentication).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>An exec credential plugin that prints the bearer token (EKS, GKE, AKS).</summary>
    public ExecCredentialPlugin? Exec { get; init; }

    public static KubeCredentials FromToken(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        return new KubeCredentials { Token = token };
    }

    public static KubeCredentials FromTokenFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new KubeCredentials { TokenFile = path };
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (Token is not null) parts.Add("bearer token");
        if (TokenFile is not null) parts.Add("bearer token from " + TokenFile);
        if (ClientCertificate is not null) parts.Add("client certificate " + ClientCertificate.Subject);
        if (Username is not null) parts.Add("basic auth as " + Username);
        if (Exec is not null) parts.Add("bearer token from " + Exec);
        return parts.Count == 0 ? "anonymous" : string.Join(" + ", parts);
    }
}

/// <summary>A kubeconfig or in-cluster configuration that cannot be used; the message says what and where.</summary>
public sealed class KubeConfigException : Exception
{
    public KubeConfigException()
    {
    }

    public KubeConfigException(string message)
        : base(message)
    {
    }

    public KubeConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Aviary.Kubernetes.Client;

/// <summary>Reads kubeconfig files as kubectl does (the fields a client needs, exec plugins included; auth-provider is refused).</summary>
internal static class KubeconfigLoader
{
    public static KubeClientConfig Load(string? path, string? context, Func<string, string?> environment)
    {
        var list = path ?? environment("KUBECONFIG");
        List<string> files;
        if (string.IsNullOrEmpty(list))
        {
            var home = environment("HOME");
            if (string.IsNullOrEmpty(home)) throw new KubeConfigException("no kubeconfig: KUBECONFIG and HOME are not set");
            files = [Path.Combine(home, ".kube", "config")];
        }
        else
        {
            files = [.. list.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }
        // As kubectl: files of a list that do not exist are skipped; at least one must.
        var documents = new List<(string Path, Kubeconfig Doc)>();
        foreach (var file in files)
        {
            if (!File.Exists(file)) continue;
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KubeConfigException($"cannot read kubeconfig {file}: {e.Message}", e);
            }
            documents.Add((file, Parse(text, file)));
        }
        if (documents.Count == 0) throw new KubeConfigException($"kubeconfig {string.Join(":", files)} does not exist");
        return Resolve(documents, context, "kubeconfig " + string.Join(":", documents.Select(d => d.Path)));
    }

    public static KubeClientConfig LoadText(string yaml, string? context, string directory)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var fakePath = Path.Combine(directory, "kubeconfig");
        return Resolve([(fakePath, Parse(yaml, "the kubeconfig text"))], context, "kubeconfig text");
    }

    private static Kubeconfig Parse(string text, string where)
    {
        try
        {
            var deserializer = new DeserializerBuilder().IgnoreUnmatchedProperties().Build();
            return deserializer.Deserialize<Kubeconfig?>(text) ?? new Kubeconfig();
        }
        catch (YamlException e)
        {
            throw new KubeConfigException($"{where} is not a valid kubeconfig: {e.Message}{(e.InnerException is { } inner ? " (" + inner.Message + ")" : "")}", e);
        }
    }

    private static KubeClientConfig Resolve(List<(string Path, Kubeconfig Doc)> documents, string? requestedContext, string source)
    {
        // Named entries: the first file that defines a name wins (kubectl's merge).
        var contexts = Merge(documents, d => d.Contexts);
        var clusters = Merge(documents, d => d.Clusters);
        var users = Merge(documents, d => d.Users);
        var contextName = !string.IsNullOrEmpty(requestedContext) ? requestedContext
            : documents.Select(d => d.Doc.CurrentContext).FirstOrDefault(c => !string.IsNullOrEmpty(c));
        if (string.IsNullOrEmpty(contextName)) throw new KubeConfigException($"{source} has no current-context; name a context");
        if (!contexts.TryGetValue(contextName, out var ctx))
            throw new KubeConfigException($"{source} has no context '{contextName}' (it has: {Names(contexts.Keys)})");
        var context = ctx.Item.Context ?? new ContextEntry();
        if (string.IsNullOrEmpty(context.Cluster)) throw new KubeConfigException($"context '{contextName}' of {source} names no cluster");
        if (!clusters.TryGetValue(context.Cluster, out var cl))
            throw new KubeConfigException($"context '{contextName}' names cluster '{context.Cluster}', which {source} does not have (it has: {Names(clusters.Keys)})");
        var cluster = cl.Item.Cluster ?? new ClusterEntry();
        UserEntry user = new();
        var userFile = cl.File;
        if (!string.IsNullOrEmpty(context.User))
        {
            if (!users.TryGetValue(context.User, out var us))
                throw new KubeConfigException($"context '{contextName}' names user '{context.User}', which {source} does not have (it has: {Names(users.Keys)})");
            user = us.Item.User ?? new UserEntry();
            userFile = us.File;
        }

        var where = $"cluster '{context.Cluster}' of {cl.File}";
        if (string.IsNullOrEmpty(cluster.Server)) throw new KubeConfigException($"{where} has no server");
        if (!Uri.TryCreate(cluster.Server, UriKind.Absolute, out var server) || server.Scheme is not ("https" or "http"))
            throw new KubeConfigException($"{where} has server '{cluster.Server}', which is not an http(s) URL");
        if (!string.IsNullOrEmpty(cluster.ProxyUrl)) throw new KubeConfigException($"{where} sets proxy-url, which Aviary's client does not support");

        IReadOnlyList<X509Certificate2> cas = [];
        if (!string.IsNullOrEmpty(cluster.CertificateAuthorityData))
            cas = ReadCertificates(Decode(cluster.CertificateAuthorityData, $"certificate-authority-data of {where}"), $"certificate-authority-data of {where}");
        else if (!string.IsNullOrEmpty(cluster.CertificateAuthority))
            cas = ReadCertificates(ReadFile(Resolve(cl.File, cluster.CertificateAuthority), $"certificate-authority of {where}"), cluster.CertificateAuthority);
        if (cluster.InsecureSkipTlsVerify && cas.Count > 0)
            throw new KubeConfigException($"{where} sets both insecure-skip-tls-verify and a certificate authority; kubectl refuses that too");

        return new KubeClientConfig
        {
            Server = server,
            CertificateAuthorities = cas,
            InsecureSkipTlsVerify = cluster.InsecureSkipTlsVerify,
            TlsServerName = string.IsNullOrEmpty(cluster.TlsServerName) ? null : cluster.TlsServerName,
            Credentials = Credentials(user, userFile, $"user '{context.User}' of {userFile}", cluster),
            Namespace = string.IsNullOrEmpty(context.Namespace) ? "default" : context.Namespace,
            Source = $"{source}, context {contextName}",
        };
    }

    private static KubeCredentials Credentials(UserEntry user, string file, string where, ClusterEntry cluster)
    {
        if (user.AuthProvider is not null) throw new KubeConfigException($"{where} uses an auth-provider, which Aviary's client does not support (kubectl dropped it too); use an exec plugin, a token or a client certificate");
        var credentials = KubeCredentials.None;
        if (user.Exec is { } exec) credentials = credentials with { Exec = Exec(exec, file, where, cluster) };
        if (!string.IsNullOrEmpty(user.Token)) credentials = credentials with { Token = user.Token.Trim() };
        else if (!string.IsNullOrEmpty(user.TokenFile))
        {
            var path = Resolve(file, user.TokenFile);
            if (!File.Exists(path)) throw new KubeConfigException($"tokenFile {path} of {where} does not exist");
            credentials = credentials with { TokenFile = path };
        }

        string? certPem = null, keyPem = null;
        if (!string.IsNullOrEmpty(user.ClientCertificateData)) certPem = Decode(user.ClientCertificateData, $"client-certificate-data of {where}");
        else if (!string.IsNullOrEmpty(user.ClientCertificate)) certPem = ReadFile(Resolve(file, user.ClientCertificate), $"client-certificate of {where}");
        if (!string.IsNullOrEmpty(user.ClientKeyData)) keyPem = Decode(user.ClientKeyData, $"client-key-data of {where}");
        else if (!string.IsNullOrEmpty(user.ClientKey)) keyPem = ReadFile(Resolve(file, user.ClientKey), $"client-key of {where}");
        if ((certPem is null) != (keyPem is null))
            throw new KubeConfigException($"{where} has a client {(certPem is null ? "key" : "certificate")} without the {(certPem is null ? "certificate" : "key")}");
        if (certPem is not null) credentials = credentials with { ClientCertificate = ReadClientCertificate(certPem, keyPem!, where) };

        if (!string.IsNullOrEmpty(user.Username) || !string.IsNullOrEmpty(user.Password))
        {
            if (string.IsNullOrEmpty(user.Username)) throw new KubeConfigException($"{where} has a password without a username");
            credentials = credentials with { Username = user.Username, Password = user.Password ?? "" };
        }
        return credentials;
    }

    /// <summary>Every certificate of a PEM bundle.</summary>
    public static IReadOnlyList<X509Certificate2> ReadCertificates(string pem, string where)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new KubeConfigException($"{where} is not a PEM certificate: {e.Message}", e);
        }
        if (collection.Count == 0) throw new KubeConfigException($"{where} holds no PEM certificate");
        return [.. collection];
    }

    /// <summary>A certificate with its private key from PEM (RSA or EC key in PKCS#1, SEC1 or PKCS#8).</summary>
    public static X509Certificate2 ReadClientCertificate(string certificatePem, string keyPem, string where)
    {
        try
        {
            using var withKey = X509Certificate2.CreateFromPem(certificatePem, keyPem);
            // A PKCS#12 round trip gives a certificate whose key TLS can use on every platform.
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }
        catch (CryptographicException e)
        {
            throw new KubeConfigException($"the client certificate or key of {where} cannot be read (PEM RSA or EC key matching the certificate expected): {e.Message}", e);
        }
    }

    private static Dictionary<string, (T Item, string File)> Merge<T>(List<(string Path, Kubeconfig Doc)> documents, Func<Kubeconfig, List<T>?> entries)
        where T : INamed
    {
        var result = new Dictionary<string, (T, string)>(StringComparer.Ordinal);
        foreach (var (path, doc) in documents)
        {
            foreach (var entry in entries(doc) ?? [])
                if (!string.IsNullOrEmpty(entry.Name)) result.TryAdd(entry.Name, (entry, path));
        }
        return result;
    }

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names.Order(StringComparer.Ordinal)) : "none";

    private static string Resolve(string kubeconfigFile, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(kubeconfigFile)) ?? "/", path));

    private static string ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KubeConfigException($"cannot read {what} ({path}): {e.Message}", e);
        }
    }

    private static string Decode(string base64, string what)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(base64.Trim()));
        }
        catch (FormatException e)
        {
            throw new KubeConfigException($"{what} is not base64", e);
        }
    }

    private interface INamed
    {
        string? Name { get; }
    }

    // The kubeconfig's shape (clientcmd/api/v1), the fields this client reads.
    private sealed class Kubeconfig
    {
        [YamlMember(Alias = "current-context")] public string? CurrentContext { get; set; }
        [YamlMember(Alias = "clusters")] public List<NamedCluster>? Clusters { get; set; }
        [YamlMember(Alias = "users")] public List<NamedUser>? Users { get; set; }
        [YamlMember(Alias = "contexts")] public List<NamedContext>? Contexts { get; set; }
    }

    private sealed class NamedCluster : INamed
    {
        [YamlMember(Alias = "name")] public string? Name { get; set; }
        [YamlMember(Alias = "cluster")] public ClusterEntry? Cluster { get; set; }
    }

    private sealed class ClusterEntry
    {
        [YamlMember(Alias = "server")] public string? Server { get; set; }
        [YamlMember(Alias = "certificate-authority")] public string? CertificateAuthority { get; set; }
        [YamlMember(Alias = "certificate-authority-data")] public string? CertificateAuthorityData { get; set; }
        [YamlMember(Alias = "insecure-skip-tls-verify")] public bool InsecureSkipTlsVerify { get; set; }
        [YamlMember(Alias = "tls-server-name")] public string? TlsServerName { get; set; }
        [YamlMember(Alias = "proxy-url")] public string? ProxyUrl { get; set; }
    }

    private sealed class NamedUser : INamed
    {
        [YamlMember(Alias = "name")] public string? Name { get; set; }
        [YamlMember(Alias = "user")] public UserEntry? User { get; set; }
    }

    private sealed class UserEntry
    {
        [YamlMember(Alias = "token")] public string? Token { get; set; }
        [YamlMember(Alias = "tokenFile")] public string? TokenFile { get; set; }
        [YamlMember(Alias = "client-certificate")] public string? ClientCertificate { get; set; }
        [YamlMember(Alias = "client-certificate-data")] public string? ClientCertificateData { get; set; }
        [YamlMember(Alias = "client-key")] public string? ClientKey { get; set; }
        [YamlMember(Alias = "client-key-data")] public string? ClientKeyData { get; set; }
        [YamlMember(Alias = "username")] public string? Username { get; set; }
        [YamlMember(Alias = "password")] public string? Password { get; set; }
        [YamlMember(Alias = "exec")] public ExecEntry? Exec { get; set; }
        [YamlMember(Alias = "auth-provider")] public object? AuthProvider { get; set; }
    }

    private sealed class ExecEntry
    {
        [YamlMember(Alias = "apiVersion")] public string? ApiVersion { get; set; }
        [YamlMember(Alias = "command")] public string? Command { get; set; }
        [YamlMember(Alias = "args")] public List<string>? Args { get; set; }
        [YamlMember(Alias = "env")] public List<ExecEnv>? Env { get; set; }
        [YamlMember(Alias = "installHint")] public string? InstallHint { get; set; }
        [YamlMember(Alias = "provideClusterInfo")] public bool ProvideClusterInfo { get; set; }
        [YamlMember(Alias = "interactiveMode")] public string? InteractiveMode { get; set; }
    }

    private sealed class ExecEnv
    {
        [YamlMember(Alias = "name")] public string? Name { get; set; }
        [YamlMember(Alias = "value")] public string? Value { get; set; }
    }

    /// <summary>An <c>exec</c> entry, checked as client-go checks it; each refusal names the field.</summary>
    private static ExecCredentialPlugin Exec(ExecEntry exec, string file, string where, ClusterEntry cluster)
    {
        if (exec.ApiVersion is not (ExecCredentialPlugin.V1 or ExecCredentialPlugin.V1Beta1))
            throw new KubeConfigException($"{where}: exec.apiVersion '{exec.ApiVersion}' is not {ExecCredentialPlugin.V1} or {ExecCredentialPlugin.V1Beta1} (v1alpha1 was removed in Kubernetes 1.24)");
        if (string.IsNullOrWhiteSpace(exec.Command)) throw new KubeConfigException($"{where}: exec.command is required");
        if (exec.InteractiveMode == "Always")
            throw new KubeConfigException($"{where}: exec.interactiveMode is Always, but Aviary runs the plugin without a terminal; use a plugin mode that needs no input");
        var env = new List<KeyValuePair<string, string>>();
        foreach (var (e, i) in (exec.Env ?? []).Select((e, i) => (e, i)))
        {
            if (string.IsNullOrEmpty(e.Name)) throw new KubeConfigException($"{where}: exec.env[{i}].name is required");
            env.Add(KeyValuePair.Create(e.Name, e.Value ?? ""));
        }
        // As client-go: a command with a slash is relative to the kubeconfig's folder; a bare name is looked up in PATH.
        var command = exec.Command.Contains('/', StringComparison.Ordinal) ? Resolve(file, exec.Command) : exec.Command;
        JsonObject? clusterInfo = null;
        if (exec.ProvideClusterInfo)
        {
            clusterInfo = new JsonObject { ["server"] = cluster.Server, ["insecure-skip-tls-verify"] = cluster.InsecureSkipTlsVerify };
            if (!string.IsNullOrEmpty(cluster.TlsServerName)) clusterInfo["tls-server-name"] = cluster.TlsServerName;
            if (!string.IsNullOrEmpty(cluster.CertificateAuthorityData)) clusterInfo["certificate-authority-data"] = cluster.CertificateAuthorityData;
            else if (!string.IsNullOrEmpty(cluster.CertificateAuthority))
                clusterInfo["certificate-authority-data"] = Convert.ToBase64String(File.ReadAllBytes(Resolve(file, cluster.CertificateAuthority)));
        }
        return new ExecCredentialPlugin
        {
            Command = command,
            Args = exec.Args ?? [],
            Env = env,
            ApiVersion = exec.ApiVersion,
            InstallHint = exec.InstallHint,
            Cluster = clusterInfo,
            Where = where,
        };
    }

    private sealed class NamedContext : INamed
    {
        [YamlMember(Alias = "name")] public string? Name { get; set; }
        [YamlMember(Alias = "context")] public ContextEntry? Context { get; set; }
    }

    private sealed class ContextEntry
    {
        [YamlMember(Alias = "cluster")] public string? Cluster { get; set; }
        [YamlMember(Alias = "user")] public string? User { get; set; }
        [YamlMember(Alias = "namespace")] public string? Namespace { get; set; }
    }
}

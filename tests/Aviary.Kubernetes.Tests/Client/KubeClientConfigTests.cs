using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Client;

public sealed class KubeClientConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aviary-kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Config(string users, string clusters = "", string contexts = "", string current = "current-context: dev\n") => $"""
        apiVersion: v1
        kind: Config
        {current}
        clusters:
        - name: dev-cluster
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority-data: {TestCertificates.Base64(TestCertificates.CaPem())}
        {clusters}
        contexts:
        - name: dev
          context: {"{"}cluster: dev-cluster, user: dev-user, namespace: team-a{"}"}
        {contexts}
        users:
        {users}
        """;

    [Fact]
    public void FromKubeconfigText_TokenUser_ReadsServerCaTokenAndNamespace()
    {
        var config = KubeClientConfig.FromKubeconfigText(Config("- name: dev-user\n  user: {token: abc123}\n"));
        Assert.Equal(new Uri("https://127.0.0.1:6443"), config.Server);
        Assert.Single(config.CertificateAuthorities);
        Assert.Equal("abc123", config.Credentials.Token);
        Assert.Equal("team-a", config.Namespace);
        Assert.False(config.InsecureSkipTlsVerify);
        Assert.Contains("context dev", config.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_NamedContext_WinsOverCurrentContext()
    {
        var text = Config("- name: dev-user\n  user: {token: a}\n- name: ops-user\n  user: {token: b}\n",
            clusters: "- name: ops-cluster\n  cluster: {server: 'https://ops.example:443', insecure-skip-tls-verify: true}\n",
            contexts: "- name: ops\n  context: {cluster: ops-cluster, user: ops-user}\n");
        var config = KubeClientConfig.FromKubeconfigText(text, context: "ops");
        Assert.Equal("ops.example", config.Server.Host);
        Assert.True(config.InsecureSkipTlsVerify);
        Assert.Equal("b", config.Credentials.Token);
        Assert.Equal("default", config.Namespace);
    }

    [Fact]
    public void FromKubeconfigText_UnknownContext_ThrowsNamingTheKnownOnes()
    {
        var e = Assert.Throws<KubeConfigException>(() =>
            KubeClientConfig.FromKubeconfigText(Config("- name: dev-user\n  user: {token: a}\n"), context: "prod"));
        Assert.Contains("no context 'prod'", e.Message, StringComparison.Ordinal);
        Assert.Contains("dev", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_ContextNamesMissingUser_Throws()
    {
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(Config("- name: other\n  user: {token: a}\n")));
        Assert.Contains("user 'dev-user'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_NoCurrentContext_Throws()
    {
        var e = Assert.Throws<KubeConfigException>(() =>
            KubeClientConfig.FromKubeconfigText(Config("- name: dev-user\n  user: {token: a}\n", current: "")));
        Assert.Contains("no current-context", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_EmptyDocument_Throws()
    {
        Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(""));
    }

    [Fact]
    public void FromKubeconfigText_NotYaml_ThrowsKubeConfigException()
    {
        Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText("clusters: [unclosed"));
    }

    [Theory]
    [InlineData("auth-provider: {name: gcp}", "auth-provider")]
    [InlineData("exec: {command: aws, apiVersion: client.authentication.k8s.io/v1alpha1}", "exec.apiVersion 'client.authentication.k8s.io/v1alpha1' is not")]
    [InlineData("exec: {apiVersion: client.authentication.k8s.io/v1}", "exec.command is required")]
    [InlineData("exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1, interactiveMode: Always}", "exec.interactiveMode is Always")]
    [InlineData("exec: {command: x, apiVersion: client.authentication.k8s.io/v1, env: [{value: v}]}", "exec.env[0].name is required")]
    public void FromKubeconfigText_UnusablePluginUser_ThrowsNamingTheField(string user, string expected)
    {
        var e = Assert.Throws<KubeConfigException>(() =>
            KubeClientConfig.FromKubeconfigText(Config($"- name: dev-user\n  user: {{{user}}}\n")));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_ExecUser_IsAPluginWithItsArgsAndEnv()
    {
        var config = KubeClientConfig.FromKubeconfigText(Config(
            "- name: dev-user\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n" +
            "      args: [eks, get-token, --cluster-name, prod]\n      env: [{name: AWS_PROFILE, value: prod}]\n      installHint: install the AWS CLI\n"));
        var exec = config.Credentials.Exec!;
        Assert.Equal(("aws", "client.authentication.k8s.io/v1beta1"), (exec.Command, exec.ApiVersion));
        Assert.Equal(["eks", "get-token", "--cluster-name", "prod"], exec.Args);
        Assert.Equal([KeyValuePair.Create("AWS_PROFILE", "prod")], exec.Env);
        Assert.Null(exec.Cluster);
        Assert.Equal("bearer token from exec plugin aws", config.Credentials.ToString());
    }

    [Fact]
    public void FromKubeconfigText_InsecureAndCa_Throws()
    {
        var text = Config("- name: dev-user\n  user: {token: a}\n").Replace(
            "    server: https://127.0.0.1:6443\n", "    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\n", StringComparison.Ordinal);
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(text));
        Assert.Contains("insecure-skip-tls-verify", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_ServerNotAUrl_Throws()
    {
        var text = Config("- name: dev-user\n  user: {token: a}\n").Replace("https://127.0.0.1:6443", "127.0.0.1:6443", StringComparison.Ordinal);
        Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(text));
    }

    [Fact]
    public void FromKubeconfigText_CaDataNotBase64_Throws()
    {
        var text = Config("- name: dev-user\n  user: {token: a}\n");
        var start = text.IndexOf("certificate-authority-data: ", StringComparison.Ordinal) + "certificate-authority-data: ".Length;
        var end = text.IndexOf('\n', start);
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(text[..start] + "not*base64" + text[end..]));
        Assert.Contains("not base64", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rsa-pkcs1")]
    [InlineData("rsa-pkcs8")]
    [InlineData("ec-sec1")]
    [InlineData("ec-pkcs8")]
    public void FromKubeconfigText_ClientCertificateData_LoadsKeyOfEveryPemFormat(string format)
    {
        var (cert, key) = TestCertificates.Client("alice", format);
        var config = KubeClientConfig.FromKubeconfigText(Config(
            $"- name: dev-user\n  user:\n    client-certificate-data: {TestCertificates.Base64(cert)}\n    client-key-data: {TestCertificates.Base64(key)}\n"));
        Assert.NotNull(config.Credentials.ClientCertificate);
        Assert.True(config.Credentials.ClientCertificate!.HasPrivateKey);
        Assert.Equal("CN=alice", config.Credentials.ClientCertificate.Subject);
    }

    [Fact]
    public void FromKubeconfigText_CertificateWithoutKey_Throws()
    {
        var (cert, _) = TestCertificates.Client("alice", "rsa-pkcs1");
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(Config(
            $"- name: dev-user\n  user:\n    client-certificate-data: {TestCertificates.Base64(cert)}\n")));
        Assert.Contains("without the key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfigText_KeyOfAnotherCertificate_Throws()
    {
        var (cert, _) = TestCertificates.Client("alice", "rsa-pkcs1");
        var (_, otherKey) = TestCertificates.Client("bob", "rsa-pkcs1");
        Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfigText(Config(
            $"- name: dev-user\n  user:\n    client-certificate-data: {TestCertificates.Base64(cert)}\n    client-key-data: {TestCertificates.Base64(otherKey)}\n")));
    }

    [Fact]
    public void FromKubeconfig_RelativePaths_ResolveAgainstTheFilesFolder()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "conf", "pki")).FullName;
        File.WriteAllText(Path.Combine(sub, "ca.crt"), TestCertificates.CaPem());
        var (cert, key) = TestCertificates.Client("alice", "ec-sec1");
        File.WriteAllText(Path.Combine(sub, "alice.crt"), cert);
        File.WriteAllText(Path.Combine(sub, "alice.key"), key);
        File.WriteAllText(Path.Combine(sub, "token"), "from-file\n");
        var path = Path.Combine(_dir, "conf", "config");
        File.WriteAllText(path, """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://localhost:6443", certificate-authority: pki/ca.crt, tls-server-name: kubernetes.default}}]
            users: [{name: u, user: {tokenFile: pki/token, client-certificate: pki/alice.crt, client-key: pki/alice.key}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """);
        var config = KubeClientConfig.FromKubeconfig(path, environment: _ => null);
        Assert.Equal(Path.Combine(sub, "token"), config.Credentials.TokenFile);
        Assert.Equal("CN=alice", config.Credentials.ClientCertificate!.Subject);
        Assert.Equal("kubernetes.default", config.TlsServerName);
        Assert.Single(config.CertificateAuthorities);
    }

    [Fact]
    public void FromKubeconfig_MissingCaFile_ThrowsNamingIt()
    {
        var path = Path.Combine(_dir, "config");
        File.WriteAllText(path, """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://localhost:6443", certificate-authority: nowhere/ca.crt}}]
            contexts: [{name: c, context: {cluster: k}}]
            """);
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfig(path, environment: _ => null));
        Assert.Contains("nowhere/ca.crt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromKubeconfig_KubeconfigList_MergesFirstDefinitionWinsAndSkipsMissingFiles()
    {
        var first = Path.Combine(_dir, "first");
        var second = Path.Combine(_dir, "second");
        File.WriteAllText(first, """
            current-context: b
            users: [{name: u, user: {token: first-token}}]
            """);
        File.WriteAllText(second, """
            current-context: a
            clusters: [{name: k, cluster: {server: "http://127.0.0.1:8080"}}]
            users: [{name: u, user: {token: second-token}}]
            contexts: [{name: a, context: {cluster: k, user: u}}, {name: b, context: {cluster: k, user: u, namespace: bee}}]
            """);
        var list = string.Join(':', first, Path.Combine(_dir, "missing"), second);
        var config = KubeClientConfig.FromKubeconfig(environment: name => name == "KUBECONFIG" ? list : null);
        Assert.Equal("first-token", config.Credentials.Token);
        Assert.Equal("bee", config.Namespace);
        Assert.Equal(new Uri("http://127.0.0.1:8080"), config.Server);
    }

    [Fact]
    public void FromKubeconfig_NoFileAnywhere_Throws()
    {
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.FromKubeconfig(environment: name => name == "HOME" ? _dir : null));
        Assert.Contains(".kube/config", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_TokenAndPassword_AreNeverShown()
    {
        var config = KubeClientConfig.FromKubeconfigText(Config("- name: dev-user\n  user: {token: s3cr3t-token, username: admin, password: pa55word}\n"));
        var text = config.ToString() + config.Credentials;
        Assert.DoesNotContain("s3cr3t-token", text, StringComparison.Ordinal);
        Assert.DoesNotContain("pa55word", text, StringComparison.Ordinal);
        Assert.Contains("bearer token", text, StringComparison.Ordinal);
        Assert.Contains("basic auth as admin", text, StringComparison.Ordinal);
    }

    [Fact]
    public void InCluster_ServiceAccountFolder_ReadsHostPortCaTokenFileAndNamespace()
    {
        WriteServiceAccount("tok", "aviary-system");
        var config = KubeClientConfig.InCluster(_dir, Env("10.96.0.1", "443"));
        Assert.Equal(new Uri("https://10.96.0.1:443"), config.Server);
        Assert.Equal(Path.Combine(_dir, "token"), config.Credentials.TokenFile);
        Assert.Null(config.Credentials.Token);
        Assert.Equal("aviary-system", config.Namespace);
        Assert.Single(config.CertificateAuthorities);
    }

    [Fact]
    public void InCluster_Ipv6Host_IsBracketed()
    {
        WriteServiceAccount("tok", null);
        var config = KubeClientConfig.InCluster(_dir, Env("fd00::1", "6443"));
        Assert.Equal("[fd00::1]", config.Server.Host);
        Assert.Equal(6443, config.Server.Port);
        Assert.Equal("default", config.Namespace);
    }

    [Fact]
    public void InCluster_OutsideACluster_ThrowsSayingWhy()
    {
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.InCluster(_dir, _ => null));
        Assert.Contains("KUBERNETES_SERVICE_HOST", e.Message, StringComparison.Ordinal);
        Assert.Contains("token", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_KubernetesServiceHostWithoutKubeconfig_IsInCluster()
    {
        // Default uses the standard folder, which does not exist here: the in-cluster path is taken and fails on it.
        var e = Assert.Throws<KubeConfigException>(() => KubeClientConfig.Default(environment: Env("10.96.0.1", "443")));
        Assert.Contains(KubeClientConfig.ServiceAccountDirectory, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_KubeconfigVariable_WinsOverInCluster()
    {
        var path = Path.Combine(_dir, "config");
        File.WriteAllText(path, "current-context: c\nclusters: [{name: k, cluster: {server: 'https://x:1'}}]\ncontexts: [{name: c, context: {cluster: k}}]\n");
        var env = Env("10.96.0.1", "443");
        var config = KubeClientConfig.Default(environment: name => name == "KUBECONFIG" ? path : env(name));
        Assert.Equal("x", config.Server.Host);
    }

    private void WriteServiceAccount(string token, string? ns)
    {
        File.WriteAllText(Path.Combine(_dir, "token"), token);
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), TestCertificates.CaPem());
        if (ns is not null) File.WriteAllText(Path.Combine(_dir, "namespace"), ns);
    }

    private static Func<string, string?> Env(string host, string port) => name => name switch
    {
        "KUBERNETES_SERVICE_HOST" => host,
        "KUBERNETES_SERVICE_PORT" => port,
        _ => null,
    };
}

using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>Configuration, TLS trust and authentication against the real API server.</summary>
[Collection(KubeCollection.Name)]
public sealed class KubeClientAuthTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    [Fact]
    public async Task FromKubeconfig_AdminToken_ReachesTheServer()
    {
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig));
        var version = await client.GetVersionAsync();
        Assert.True(version.Succeeded, version.ToString());
        Assert.Equal("v1.20.2", version.Value["gitVersion"]!.GetValue<string>());
        Assert.Equal("default", client.Config.Namespace);
    }

    [Theory]
    [InlineData(KubeKeyType.Rsa, false)]
    [InlineData(KubeKeyType.RsaPkcs8, true)]
    [InlineData(KubeKeyType.Ec, false)]
    [InlineData(KubeKeyType.EcPkcs8, true)]
    public async Task FromKubeconfig_ClientCertificate_AuthenticatesAsItsCommonNameAndGroups(KubeKeyType keyType, bool embed)
    {
        var ns = await Server.CreateNamespaceAsync("cert");
        var user = "alice-" + keyType.ToString().ToLowerInvariant();
        var certificate = await Server.IssueClientCertificateAsync(user, ["readers-" + ns], keyType);
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.WriteKubeconfig(user, clientCertificate: certificate, embed: embed)));

        var denied = await client.Resource(KubeResources.ConfigMaps).ListAsync(ns);
        Assert.True(denied.IsForbidden, denied.ToString());
        Assert.Contains($"User \"{user}\"", denied.Error!.Message, StringComparison.Ordinal);

        // RBAC for the certificate's group (its O) lets it list.
        await Server.ApplyAsync(ReaderRole(ns, "Group", "readers-" + ns));
        var allowed = await client.Resource(KubeResources.ConfigMaps).ListAsync(ns);
        Assert.True(allowed.Succeeded, allowed.ToString());
    }

    /// <summary>A small exec credential plugin: prints the token in its folder, counts its runs, keeps what it was told.</summary>
    private static string WritePlugin(string dir, string token, string apiVersion, string? expires = null)
    {
        File.WriteAllText(Path.Combine(dir, "token"), token);
        var path = Path.Combine(dir, "plugin.sh");
        var expiry = expires is null ? "" : ",\"expirationTimestamp\":\"" + expires + "\"";
        var print = "printf '{\"apiVersion\":\"" + apiVersion + "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"" + expiry + "}}' \"$(cat \"$dir/token\")\"";
        File.WriteAllText(path, """
            #!/bin/sh
            dir="$(dirname "$0")"
            echo run >> "$dir/runs"
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$dir/info.json"
            printf '%s' "$PLUGIN_GREETING" > "$dir/env.txt"
            [ -f "$dir/fail" ] && { echo "plugin: no credentials for this cluster" >&2; exit 3; }
            """.Replace("\r", "", StringComparison.Ordinal) + "\n" + print + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string ExecKubeconfig(string dir, string apiVersion, bool provideClusterInfo = false)
    {
        var text = File.ReadAllText(Server.WriteKubeconfig("exec-user")).Replace("    {}\n",
            $"    exec:\n      apiVersion: {apiVersion}\n      command: ./plugin.sh\n      env: [{{name: PLUGIN_GREETING, value: hello}}]\n" +
            $"      provideClusterInfo: {(provideClusterInfo ? "true" : "false")}\n", StringComparison.Ordinal);
        var path = Path.Combine(dir, "kubeconfig");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task FromKubeconfig_ExecPlugin_AuthenticatesWithItsTokenAndRunsItAgainWhenRefused()
    {
        var ns = await Server.CreateNamespaceAsync("exec");
        var dir = Directory.CreateTempSubdirectory("aviary-exec-").FullName;
        var first = await Server.CreateServiceAccountTokenAsync(ns, "first");
        WritePlugin(dir, first, ExecCredentialPlugin.V1);
        // The command is relative to the kubeconfig's folder, as client-go resolves it.
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(ExecKubeconfig(dir, ExecCredentialPlugin.V1, provideClusterInfo: true)));

        var denied = await client.Resource(KubeResources.ConfigMaps).ListAsync(ns);
        Assert.True(denied.IsForbidden, denied.ToString());
        Assert.Contains($"system:serviceaccount:{ns}:first", denied.Error!.Message, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(Path.Combine(dir, "runs")));
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "info.json")))!;
        Assert.Equal((ExecCredentialPlugin.V1, "ExecCredential", false), (info["apiVersion"]!.GetValue<string>(), info["kind"]!.GetValue<string>(), info["spec"]!["interactive"]!.GetValue<bool>()));
        Assert.Equal(Server.Url.GetLeftPart(UriPartial.Authority), info["spec"]!["cluster"]!["server"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(info["spec"]!["cluster"]!["certificate-authority-data"]?.GetValue<string>()));
        Assert.Equal("hello", File.ReadAllText(Path.Combine(dir, "env.txt")));

        // The token without an expiry is kept: a second request does not run the plugin.
        await client.Resource(KubeResources.ConfigMaps).ListAsync(ns);
        Assert.Single(File.ReadAllLines(Path.Combine(dir, "runs")));

        // Revoked (the server answers 401): the client runs the plugin again and goes on with the new token.
        await Server.KubectlAsync("delete", "serviceaccount", "first", "-n", ns);
        var second = await Server.CreateServiceAccountTokenAsync(ns, "second");
        await Server.ApplyAsync(ReaderRole(ns, "ServiceAccount", "second", ns));
        File.WriteAllText(Path.Combine(dir, "token"), second);
        var allowed = await Eventually.Until(async () => await client.Resource(KubeResources.ConfigMaps).ListAsync(ns), r => r.Succeeded, describe: r => Task.FromResult(r.ToString()));
        Assert.True(File.ReadAllLines(Path.Combine(dir, "runs")).Length >= 2);

        // A failing plugin is an error naming the user and the plugin's own message; its output never appears.
        File.WriteAllText(Path.Combine(dir, "fail"), "");
        File.WriteAllText(Path.Combine(dir, "token"), "revoked");
        await Server.KubectlAsync("delete", "serviceaccount", "second", "-n", ns);
        var failed = await Eventually.Until(async () => await client.Resource(KubeResources.ConfigMaps).ListAsync(ns), r => !r.Succeeded && r.Error!.Code == 0, describe: r => Task.FromResult(r.ToString()));
        Assert.Contains("user 'exec-user' of", failed.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("exited with code 3: plugin: no credentials for this cluster", failed.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(second, failed.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromKubeconfig_ExecPluginTokenExpired_RunsThePluginBeforeTheNextRequest()
    {
        var ns = await Server.CreateNamespaceAsync("exec-exp");
        var dir = Directory.CreateTempSubdirectory("aviary-exec-").FullName;
        var time = new ManualTime(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        WritePlugin(dir, await Server.CreateServiceAccountTokenAsync(ns, "sa"), ExecCredentialPlugin.V1Beta1, expires: "2030-01-01T00:10:00Z");
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(ExecKubeconfig(dir, ExecCredentialPlugin.V1Beta1)), timeProvider: time);

        await client.GetVersionAsync();
        time.Advance(TimeSpan.FromMinutes(9));
        await client.GetVersionAsync();
        Assert.Single(File.ReadAllLines(Path.Combine(dir, "runs")));
        time.Advance(TimeSpan.FromMinutes(2));
        await client.GetVersionAsync();
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, "runs")).Length);
    }

    [Fact]
    public async Task FromKubeconfig_ExecPluginAnswersAnotherVersion_IsAClearError()
    {
        var dir = Directory.CreateTempSubdirectory("aviary-exec-").FullName;
        WritePlugin(dir, "t", ExecCredentialPlugin.V1Beta1);
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(ExecKubeconfig(dir, ExecCredentialPlugin.V1)));
        var answer = await client.GetVersionAsync();
        Assert.False(answer.Succeeded);
        Assert.Contains($"answered apiVersion '{ExecCredentialPlugin.V1Beta1}', not the kubeconfig's {ExecCredentialPlugin.V1}", answer.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ServerCertificateFromAnotherCa_IsRefused()
    {
        var otherPki = new KubePki(Server.Tools.Openssl, Directory.CreateTempSubdirectory("aviary-other-ca-").FullName);
        try
        {
            var otherCa = await otherPki.CreateCaAsync("other", "someone-else");
            var config = Config() with { CertificateAuthorities = [X509Certificate2.CreateFromPem(otherCa.CertificatePem)] };
            using var client = new KubeClient(config);
            var result = await client.GetVersionAsync();
            Assert.False(result.Succeeded);
            Assert.Equal(KubeErrorReason.Unreachable, result.Error!.Reason);
            Assert.Contains("not signed by the configured certificate authority", result.Error.Message, StringComparison.Ordinal);

            using var insecure = new KubeClient(config with { CertificateAuthorities = [], InsecureSkipTlsVerify = true });
            Assert.True((await insecure.GetVersionAsync()).Succeeded);
        }
        finally
        {
            Directory.Delete(otherPki.Directory, recursive: true);
        }
    }

    [Fact]
    public async Task Send_SystemTrustOnly_RefusesTheTestCa()
    {
        using var client = new KubeClient(Config() with { CertificateAuthorities = [] });
        var result = await client.GetVersionAsync();
        Assert.Equal(KubeErrorReason.Unreachable, result.Error?.Reason);
    }

    [Theory]
    [InlineData("kubernetes.default", true)]
    [InlineData("localhost", true)]
    [InlineData("wrong.example", false)]
    public async Task Send_TlsServerName_MustBeInTheCertificate(string name, bool accepted)
    {
        using var client = new KubeClient(Config() with { TlsServerName = name });
        var result = await client.GetVersionAsync();
        Assert.Equal(accepted, result.Succeeded);
        if (!accepted) Assert.Contains("not valid for wrong.example", result.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_UserWithoutPermissions_IsForbiddenAsData()
    {
        using var client = new KubeClient(Config() with { Credentials = KubeCredentials.FromToken(KubeTestUser.Nobody.Token) });
        var result = await client.Resource(KubeResources.Secrets).ListAsync("default");
        Assert.True(result.IsForbidden);
        Assert.Equal(403, result.Error!.Code);
        Assert.Equal("Forbidden", result.Error.Status!.Reason);
        Assert.Contains("User \"nobody\"", result.Error.Message, StringComparison.Ordinal);
        Assert.Throws<KubeApiException>(() => result.Value);
    }

    [Fact]
    public async Task Send_UnknownToken_IsUnauthorized()
    {
        using var client = new KubeClient(Config() with { Credentials = KubeCredentials.FromToken("not-a-token") });
        var result = await client.Resource(KubeResources.ConfigMaps).ListAsync("default");
        Assert.Equal(KubeErrorReason.Unauthorized, result.Error?.Reason);
    }

    [Fact]
    public async Task Send_OperatorServiceAccountToken_IsMatchedByServiceAccountSubjects()
    {
        var ns = await Server.CreateNamespaceAsync("sa");
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.WriteKubeconfig(KubeTestUser.AviaryOperator)));
        Assert.True((await client.Resource(KubeResources.ConfigMaps).ListAsync(ns)).IsForbidden);
        await Server.ApplyAsync(ReaderRole(ns, "ServiceAccount", "aviary", "aviary"));
        var allowed = await client.Resource(KubeResources.ConfigMaps).ListAsync(ns);
        Assert.True(allowed.Succeeded, allowed.ToString());
    }

    [Fact]
    public async Task InCluster_FakeServiceAccountFolder_UsesTheTokenAndRereadsItWhenItRotates()
    {
        var dir = Directory.CreateTempSubdirectory("aviary-sa-").FullName;
        try
        {
            var ns = await Server.CreateNamespaceAsync("incluster");
            var saToken = await Server.CreateServiceAccountTokenAsync(ns, "worker");
            await File.WriteAllTextAsync(Path.Combine(dir, "token"), saToken);
            File.Copy(Server.Ca.CertificatePath, Path.Combine(dir, "ca.crt"));
            await File.WriteAllTextAsync(Path.Combine(dir, "namespace"), ns + "\n");
            var config = KubeClientConfig.InCluster(dir, name => name switch
            {
                "KUBERNETES_SERVICE_HOST" => "127.0.0.1",
                "KUBERNETES_SERVICE_PORT" => Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => null,
            });
            Assert.Equal(ns, config.Namespace);
            var time = new ManualTime(TimeProvider.System.GetUtcNow());
            using var client = new KubeClient(config, new KubeClientOptions { TokenRefreshInterval = TimeSpan.FromMinutes(1) }, time);

            var first = await client.Resource(KubeResources.ConfigMaps).ListAsync(config.Namespace);
            Assert.True(first.IsForbidden, first.ToString());
            Assert.Contains($"system:serviceaccount:{ns}:worker", first.Error!.Message, StringComparison.Ordinal);

            // The kubelet rotates the token: the client reads the new one once the refresh interval has passed.
            await File.WriteAllTextAsync(Path.Combine(dir, "token"), Server.AdminToken);
            Assert.True((await client.Resource(KubeResources.ConfigMaps).ListAsync(config.Namespace)).IsForbidden);
            time.Advance(TimeSpan.FromMinutes(1));
            var rotated = await client.Resource(KubeResources.ConfigMaps).ListAsync(config.Namespace);
            Assert.True(rotated.Succeeded, rotated.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Send_BeyondBurst_IsSpacedByTheRateLimit()
    {
        using var client = new KubeClient(Config(), new KubeClientOptions { Qps = 10, Burst = 2 });
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 7; i++) Assert.True((await client.GetVersionAsync()).Succeeded);
        // 2 at once, then 5 more at 10 per second: at least 0.5 s.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(450), $"7 requests took {clock.Elapsed}");
    }

    [Fact]
    public async Task Catalog_ResolveAsync_BuiltInThenDiscovery()
    {
        using var client = new KubeClient(Config());
        Assert.Equal(KubeResources.Canaries, (await client.Catalog.ResolveAsync("flagger.app/v1beta1", "Canary")).Value);
        var role = await client.Catalog.ResolveAsync("rbac.authorization.k8s.io/v1", "ClusterRole");
        Assert.Equal(new ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", Namespaced: false), role.Value);
        var storage = await client.Catalog.ResolveAsync(new JsonObject { ["apiVersion"] = "storage.k8s.io/v1", ["kind"] = "StorageClass" });
        Assert.Equal("storageclasses", storage.Value.Plural);
        Assert.False(storage.Value.Namespaced);
        Assert.True((await client.Catalog.ResolveAsync("rbac.authorization.k8s.io/v1", "Nothing")).IsNotFound);
        Assert.True((await client.Catalog.ResolveAsync("nothing.example/v1", "Thing")).IsNotFound);
        var groups = await client.Catalog.GroupVersionsAsync();
        Assert.Contains("split.smi-spec.io/v1alpha2", groups.Value);
    }

    private KubeClientConfig Config() => KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig);

    internal static string ReaderRole(string ns, string subjectKind, string subjectName, string? subjectNamespace = null) => $"""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: read-configmaps
          namespace: {ns}
        rules:
          - apiGroups: [""]
            resources: [configmaps]
            verbs: [get, list, watch]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: read-configmaps-{subjectName.ToLowerInvariant()}
          namespace: {ns}
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: read-configmaps
        subjects:
          - kind: {subjectKind}
            name: {subjectName}
        {(subjectNamespace is null ? "" : "    namespace: " + subjectNamespace)}
        """;
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.TestKit;

/// <summary>
/// A real Kubernetes API server for integration tests: kube-apiserver 1.20.2 (built once from Debian's source
/// package, see <c>scripts/kube/</c>) with etcd 3.4, both on 127.0.0.1 with free ports and a temporary folder,
/// like controller-runtime's envtest.
/// <para>
/// Set up: a PKI made with openssl (<see cref="Ca"/>, a serving certificate for 127.0.0.1, localhost and
/// kubernetes.default, the service-account key pair), a static token file (<see cref="AdminToken"/> in
/// <c>system:masters</c>, plus <see cref="KubeApiServerOptions.Users"/>), client certificates accepted when signed by
/// the CA (CN = user, O = groups), RBAC and Node authorization, service-account token issuing, no
/// ServiceAccount admission plugin and no endpoint reconciler. The CRDs of the options are installed and Established
/// before <see cref="StartAsync"/> returns (by default the routing CRDs and Flagger's from the shared
/// <c>schemas/crds-for-k8s-1.20/</c>). Startup takes about 5 s once the binary exists.
/// </para>
/// <para>
/// There is no controller-manager, scheduler or kubelet: nothing creates ReplicaSets or Pods, garbage-collects owned
/// objects, or reports a Deployment's status. Tests play the kubelet and the deployment controller by writing the
/// status subresource (<see cref="MarkDeploymentReadyAsync"/>). Deleting an object with finalizers leaves it with a
/// deletionTimestamp until a test (or the code under test) removes them.
/// </para>
/// <para>
/// Share one server per test collection (<see cref="KubeApiServerFixture"/>) and isolate tests by namespace
/// (<see cref="CreateNamespaceAsync"/>). <see cref="DisposeAsync"/> stops both processes and deletes the folder.
/// If the build or the start fails, <see cref="StartAsync"/> throws with the reason: tests never skip.
/// </para>
/// </summary>
public sealed class KubeApiServer : IAsyncDisposable
{
    /// <summary>The issuer of service-account tokens (also an accepted audience).</summary>
    public const string ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local";

    /// <summary>The service IP range; the <c>kubernetes</c> Service gets its first address.</summary>
    public const string ServiceClusterIpRange = "10.96.0.0/16";

    private readonly Process _etcd;
    private readonly Process _apiServer;
    private readonly HttpClient _http;
    private readonly HttpClient _etcdHttp;
    private int _namespaces;
    private int _kubeconfigs;
    private int _disposed;

    private KubeApiServer(KubeTools tools, KubePki pki, string dir, KubeCertificate ca, int port, string etcdUrl, string adminToken,
        IReadOnlyList<KubeTestUser> users, Process etcd, Process apiServer)
    {
        Tools = tools;
        Pki = pki;
        Dir = dir;
        Ca = ca;
        Port = port;
        EtcdUrl = new Uri(etcdUrl);
        AdminToken = adminToken;
        Users = users;
        _etcd = etcd;
        _apiServer = apiServer;
        Url = new Uri($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var caCertificate = X509Certificate2.CreateFromPem(File.ReadAllText(ca.CertificatePath));
        var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            certificate is X509Certificate2 server && TrustedBy(caCertificate, server) && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
        _http = new HttpClient(handler) { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        _etcdHttp = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = EtcdUrl, Timeout = TimeSpan.FromSeconds(30) };
        AdminKubeconfig = WriteKubeconfig("admin", token: adminToken, @namespace: "default");
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    /// <summary>Every file of the shared <c>schemas/crds-for-k8s-1.20/</c> folder.</summary>
    public static IReadOnlyList<string> DefaultCrdFiles =>
        [.. Directory.GetFiles(Path.Combine(RepoPaths.Shared, "schemas", "crds-for-k8s-1.20"), "*.yaml").Order(StringComparer.Ordinal)];

    /// <summary>The process id of the API server (for benchmarks that measure its CPU).</summary>
    public int ApiServerProcessId => _apiServer.Id;

    /// <summary>The process id of etcd.</summary>
    public int EtcdProcessId => _etcd.Id;

    /// <summary>The API server's URL, e.g. <c>https://127.0.0.1:40123</c>.</summary>
    public Uri Url { get; }

    public int Port { get; }

    /// <summary>etcd's client URL (plain HTTP on 127.0.0.1), e.g. for <see cref="CompactEtcdAsync"/>.</summary>
    public Uri EtcdUrl { get; }

    /// <summary>The folder with the PKI, token file, kubeconfigs, logs and etcd's data; deleted on dispose.</summary>
    public string Dir { get; }

    /// <summary>The programs (kube-apiserver, kubectl, etcd, openssl).</summary>
    public KubeTools Tools { get; }

    /// <summary>The PKI in <see cref="Dir"/>, to issue more certificates.</summary>
    public KubePki Pki { get; }

    /// <summary>The cluster CA: it signed the serving certificate and is the API server's client CA.</summary>
    public KubeCertificate Ca { get; }

    /// <summary>The admin's bearer token (user <c>admin</c>, group <c>system:masters</c>).</summary>
    public string AdminToken { get; }

    /// <summary>The token users besides the admin.</summary>
    public IReadOnlyList<KubeTestUser> Users { get; }

    /// <summary>A kubeconfig for the admin (CA by file, token inline, namespace <c>default</c>).</summary>
    public string AdminKubeconfig { get; }

    public string ApiServerLogPath => Path.Combine(Dir, "kube-apiserver.log");

    public string EtcdLogPath => Path.Combine(Dir, "etcd.log");

    /// <summary>The API server's log so far (for assertion messages).</summary>
    public string ApiServerLog => ReadShared(ApiServerLogPath);

    /// <summary>Starts etcd and the API server, installs the CRDs and waits until all is ready.</summary>
    public static async Task<KubeApiServer> StartAsync(KubeApiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new KubeApiServerOptions();
        var tools = await KubeTools.EnsureAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        // etcd fsyncs a lot; on tmpfs that costs nothing.
        var tempRoot = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var dir = Path.Combine(tempRoot, "aviary-kube-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(dir);
        try
        {
            var pki = new KubePki(tools.Openssl, dir);
            var ca = await pki.CreateCaAsync("ca", "aviary-test-ca", cancellationToken);
            var serving = await pki.IssueServerAsync(ca, "apiserver",
                ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
                ["127.0.0.1", "10.96.0.1"], cancellationToken);
            var (saKey, saPub) = await pki.CreateKeyPairAsync("service-account", cancellationToken);
            var adminToken = "admin-" + Guid.NewGuid().ToString("N");
            await File.WriteAllTextAsync(Path.Combine(dir, "tokens.csv"), TokenFile(adminToken, options.Users), cancellationToken);

            string? lastFailure = null;
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var etcdPort = LocalTestBed.FreePort();
                var peerPort = LocalTestBed.FreePort();
                var port = LocalTestBed.FreePort();
                var etcdUrl = $"http://127.0.0.1:{etcdPort.ToString(CultureInfo.InvariantCulture)}";
                var etcdData = Path.Combine(dir, "etcd-" + attempt.ToString(CultureInfo.InvariantCulture));
                var etcd = Start(tools.Etcd, dir, "etcd.log",
                [
                    "--name=default", "--data-dir=" + etcdData,
                    "--listen-client-urls=" + etcdUrl, "--advertise-client-urls=" + etcdUrl,
                    $"--listen-peer-urls=http://127.0.0.1:{peerPort.ToString(CultureInfo.InvariantCulture)}",
                    $"--initial-advertise-peer-urls=http://127.0.0.1:{peerPort.ToString(CultureInfo.InvariantCulture)}",
                    $"--initial-cluster=default=http://127.0.0.1:{peerPort.ToString(CultureInfo.InvariantCulture)}",
                    "--logger=zap", "--log-level=warn", "--quota-backend-bytes=2147483648",
                ]);
                var apiServer = Start(tools.KubeApiServer, dir, "kube-apiserver.log",
                [
                    "--etcd-servers=" + etcdUrl,
                    "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                    "--secure-port=" + port.ToString(CultureInfo.InvariantCulture), "--insecure-port=0",
                    "--tls-cert-file=" + serving.CertificatePath, "--tls-private-key-file=" + serving.KeyPath,
                    "--client-ca-file=" + ca.CertificatePath,
                    "--token-auth-file=" + Path.Combine(dir, "tokens.csv"),
                    "--authorization-mode=Node,RBAC",
                    "--service-account-issuer=" + ServiceAccountIssuer,
                    "--service-account-signing-key-file=" + saKey,
                    "--service-account-key-file=" + saPub,
                    "--api-audiences=" + ServiceAccountIssuer,
                    "--endpoint-reconciler-type=none",
                    "--disable-admission-plugins=ServiceAccount",
                    "--service-cluster-ip-range=" + ServiceClusterIpRange,
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--v=1",
                    .. options.ExtraApiServerArgs,
                ]);
                KubeApiServer server;
                try
                {
                    server = new KubeApiServer(tools, pki, dir, ca, port, etcdUrl, adminToken, options.Users, etcd, apiServer);
                }
                catch
                {
                    Kill(apiServer);
                    Kill(etcd);
                    throw;
                }
                try
                {
                    var failure = await server.WaitReadyAsync(options.ReadyTimeout, cancellationToken);
                    if (failure is null)
                    {
                        await server.InstallCrdsAsync(options.CrdFiles ?? DefaultCrdFiles, cancellationToken);
                        server.StartupTime = clock.Elapsed;
                        return server;
                    }
                    lastFailure = failure;
                }
                catch
                {
                    await server.DisposeAsync();
                    throw;
                }
                await server.StopProcessesAsync();
                // Another process may have taken a port between choosing and binding it: try others.
                if (!lastFailure.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) break;
            }
            throw new InvalidOperationException("the test kube-apiserver did not become ready: " + lastFailure);
        }
        catch
        {
            TryDelete(dir);
            throw;
        }
    }

    /// <summary>How long <see cref="StartAsync"/> took after the tools were there (PKI, processes, CRDs).</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>
    /// Writes a kubeconfig for this server and returns its path: authenticated by <paramref name="token"/> or by
    /// <paramref name="clientCertificate"/> (by file, or inline as <c>*-data</c> with <paramref name="embed"/>).
    /// </summary>
    public string WriteKubeconfig(string user, string? token = null, KubeCertificate? clientCertificate = null,
        string? @namespace = null, bool embed = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var text = new StringBuilder();
        text.Append("apiVersion: v1\nkind: Config\nclusters:\n- name: aviary-test\n  cluster:\n")
            .Append("    server: ").Append(Url.GetLeftPart(UriPartial.Authority)).Append('\n');
        if (embed) text.Append("    certificate-authority-data: ").Append(Base64File(Ca.CertificatePath)).Append('\n');
        else text.Append("    certificate-authority: ").Append(Ca.CertificatePath).Append('\n');
        text.Append("users:\n- name: ").Append(Quote(user)).Append("\n  user:\n");
        if (token is not null) text.Append("    token: ").Append(Quote(token)).Append('\n');
        if (clientCertificate is not null)
        {
            if (embed)
            {
                text.Append("    client-certificate-data: ").Append(Base64File(clientCertificate.CertificatePath)).Append('\n')
                    .Append("    client-key-data: ").Append(Base64File(clientCertificate.KeyPath)).Append('\n');
            }
            else
            {
                text.Append("    client-certificate: ").Append(clientCertificate.CertificatePath).Append('\n')
                    .Append("    client-key: ").Append(clientCertificate.KeyPath).Append('\n');
            }
        }
        if (token is null && clientCertificate is null) text.Append("    {}\n");
        text.Append("contexts:\n- name: aviary-test\n  context:\n    cluster: aviary-test\n    user: ").Append(Quote(user)).Append('\n');
        if (@namespace is not null) text.Append("    namespace: ").Append(@namespace).Append('\n');
        text.Append("current-context: aviary-test\n");
        var n = Interlocked.Increment(ref _kubeconfigs);
        var path = Path.Combine(Dir, $"kubeconfig-{n.ToString(CultureInfo.InvariantCulture)}-{Sanitize(user)}.yaml");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    /// <summary>A kubeconfig authenticated as a token user of <see cref="Users"/>.</summary>
    public string WriteKubeconfig(KubeTestUser user, string? @namespace = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        return WriteKubeconfig(user.Name, token: user.Token, @namespace: @namespace);
    }

    /// <summary>Issues a client certificate signed by <see cref="Ca"/>: the API server takes CN as the user and each O as a group.</summary>
    public Task<KubeCertificate> IssueClientCertificateAsync(string user, IReadOnlyList<string>? groups = null,
        KubeKeyType keyType = KubeKeyType.Rsa, CancellationToken cancellationToken = default) =>
        Pki.IssueClientAsync(Ca, "client-" + Sanitize(user) + "-" + Guid.NewGuid().ToString("N")[..6], user, groups, keyType, cancellationToken);

    /// <summary>Runs Debian's kubectl 1.20.2 with <paramref name="kubeconfig"/> (default the admin's); never throws on a non-zero exit.</summary>
    public async Task<KubectlResult> RunKubectlAsync(IEnumerable<string> args, string? stdin = null, string? kubeconfig = null,
        CancellationToken cancellationToken = default)
    {
        var (code, stdout, stderr) = await KubeTools.RunRawAsync(Tools.Kubectl, ["--kubeconfig=" + (kubeconfig ?? AdminKubeconfig), .. args],
            Dir, stdin, TimeSpan.FromMinutes(2), cancellationToken);
        return new KubectlResult(code, stdout, stderr);
    }

    /// <summary>Runs kubectl as the admin and returns its output; throws with what it printed when it fails.</summary>
    public async Task<string> KubectlAsync(params string[] args)
    {
        var result = await RunKubectlAsync(args);
        return result.Succeeded ? result.Stdout : throw new InvalidOperationException($"kubectl {string.Join(' ', args)} failed, {result}");
    }

    /// <summary><c>kubectl apply</c> as the admin: <paramref name="pathOrYaml"/> is a file or folder, or YAML text.</summary>
    public async Task<string> ApplyAsync(string pathOrYaml, string? kubeconfig = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrYaml);
        var isPath = !pathOrYaml.Contains('\n', StringComparison.Ordinal) && (File.Exists(pathOrYaml) || System.IO.Directory.Exists(pathOrYaml));
        var result = isPath
            ? await RunKubectlAsync(["apply", "-f", pathOrYaml], null, kubeconfig, cancellationToken)
            : await RunKubectlAsync(["apply", "-f", "-"], pathOrYaml, kubeconfig, cancellationToken);
        return result.Succeeded ? result.Stdout : throw new InvalidOperationException($"kubectl apply failed, {result}");
    }

    /// <summary>Applies CRD files (or folders) and waits until every CRD in them is Established.</summary>
    public async Task InstallCrdsAsync(IEnumerable<string> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var list = files.ToList();
        if (list.Count == 0) return;
        var args = new List<string> { "apply", "-o", "name" };
        foreach (var f in list) args.AddRange(["-f", f]);
        var applied = await RunKubectlAsync(args, cancellationToken: cancellationToken);
        if (!applied.Succeeded) throw new InvalidOperationException($"installing the CRDs {string.Join(", ", list)} failed, {applied}");
        var names = applied.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(n => n.StartsWith("customresourcedefinition", StringComparison.Ordinal)).ToList();
        if (names.Count == 0) return;
        var wait = await RunKubectlAsync(["wait", "--for=condition=established", "--timeout=60s", .. names], cancellationToken: cancellationToken);
        if (!wait.Succeeded) throw new InvalidOperationException($"the CRDs did not become Established, {wait}");
    }

    /// <summary>Creates a namespace with a unique name starting with <paramref name="prefix"/> and returns its name.</summary>
    public async Task<string> CreateNamespaceAsync(string prefix = "test", CancellationToken cancellationToken = default)
    {
        var name = $"{Sanitize(prefix)}-{Interlocked.Increment(ref _namespaces).ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..5]}";
        await EnsureNamespaceAsync(name, cancellationToken);
        return name;
    }

    /// <summary>Creates the namespace unless it exists.</summary>
    public async Task EnsureNamespaceAsync(string name, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = name } };
        var (status, text) = await RequestAsync(HttpMethod.Post, "/api/v1/namespaces", body, cancellationToken: cancellationToken);
        if (status is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            throw new InvalidOperationException($"cannot create namespace {name}: {(int)status} {text}");
    }

    /// <summary>
    /// Issues a real ServiceAccount token (TokenRequest API, signed with the cluster's service-account key) for
    /// <paramref name="name"/> in <paramref name="namespace"/>, creating both when missing. RBAC subjects of kind
    /// ServiceAccount match it.
    /// </summary>
    public async Task<string> CreateServiceAccountTokenAsync(string @namespace, string name, TimeSpan? lifetime = null,
        CancellationToken cancellationToken = default)
    {
        await EnsureNamespaceAsync(@namespace, cancellationToken);
        var sa = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = name } };
        var (created, text) = await RequestAsync(HttpMethod.Post, $"/api/v1/namespaces/{@namespace}/serviceaccounts", sa, cancellationToken: cancellationToken);
        if (created is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            throw new InvalidOperationException($"cannot create ServiceAccount {@namespace}/{name}: {(int)created} {text}");
        var request = new JsonObject
        {
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["kind"] = "TokenRequest",
            ["spec"] = new JsonObject { ["expirationSeconds"] = (long)(lifetime ?? TimeSpan.FromHours(1)).TotalSeconds },
        };
        var (status, answer) = await RequestAsync(HttpMethod.Post, $"/api/v1/namespaces/{@namespace}/serviceaccounts/{name}/token", request,
            cancellationToken: cancellationToken);
        if (status != HttpStatusCode.Created) throw new InvalidOperationException($"TokenRequest for {@namespace}/{name} failed: {(int)status} {answer}");
        return JsonNode.Parse(answer)!["status"]!["token"]!.GetValue<string>();
    }

    /// <summary>
    /// Plays the deployment controller and kubelet: writes the Deployment's status subresource as a finished,
    /// available rollout — observedGeneration = generation; replicas, updatedReplicas, readyReplicas and
    /// availableReplicas = <paramref name="replicas"/> (default spec.replicas, 1 when unset); no unavailable replicas;
    /// conditions Available=True (MinimumReplicasAvailable) and Progressing=True (NewReplicaSetAvailable).
    /// Works for DaemonSets' shape too through <see cref="PatchStatusAsync"/>.
    /// </summary>
    public async Task MarkDeploymentReadyAsync(string @namespace, string name, int? replicas = null, CancellationToken cancellationToken = default)
    {
        var path = $"/apis/apps/v1/namespaces/{@namespace}/deployments/{name}";
        var (status, text) = await RequestAsync(HttpMethod.Get, path, cancellationToken: cancellationToken);
        if (status != HttpStatusCode.OK) throw new InvalidOperationException($"cannot read deployment {@namespace}/{name}: {(int)status} {text}");
        var deployment = JsonNode.Parse(text)!;
        var generation = deployment["metadata"]?["generation"]?.GetValue<long>() ?? 1;
        var count = replicas ?? deployment["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        var patch = new JsonObject { ["status"] = ReadyDeploymentStatus(name, generation, count, TimeProvider.System.GetUtcNow()) };
        await PatchStatusAsync(path, patch, cancellationToken);
    }

    /// <summary>The status a Deployment controller and kubelets give a Deployment whose rollout finished (for a merge patch).</summary>
    public static JsonObject ReadyDeploymentStatus(string name, long generation, int replicas, DateTimeOffset now)
    {
        var time = now.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        JsonObject Condition(string type, string reason, string message) => new()
        {
            ["type"] = type, ["status"] = "True", ["reason"] = reason, ["message"] = message,
            ["lastUpdateTime"] = time, ["lastTransitionTime"] = time,
        };
        return new JsonObject
        {
            ["observedGeneration"] = generation,
            ["replicas"] = replicas,
            ["updatedReplicas"] = replicas,
            ["readyReplicas"] = replicas,
            ["availableReplicas"] = replicas,
            ["unavailableReplicas"] = null,
            ["conditions"] = new JsonArray(
                Condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                Condition("Progressing", "NewReplicaSetAvailable", $"ReplicaSet \"{name}\" has successfully progressed.")),
        };
    }

    /// <summary>Merge-patches the status subresource of the object at <paramref name="objectPath"/> (an API path) as the admin.</summary>
    public async Task PatchStatusAsync(string objectPath, JsonNode mergePatch, CancellationToken cancellationToken = default)
    {
        var (status, text) = await RequestAsync(HttpMethod.Patch, objectPath.TrimEnd('/') + "/status", mergePatch,
            "application/merge-patch+json", cancellationToken);
        if (status != HttpStatusCode.OK) throw new InvalidOperationException($"cannot patch {objectPath}/status: {(int)status} {text}");
    }

    /// <summary>Sends a request as the admin, with a JSON body when given; returns the status and the body, never throws on an HTTP error.</summary>
    public async Task<(HttpStatusCode Status, string Body)> RequestAsync(HttpMethod method, string path, JsonNode? body = null,
        string contentType = "application/json", CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        using var response = await _http.SendAsync(request, cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>
    /// Compacts etcd's history up to its current revision (what the API server does every 5 minutes), so that
    /// resource versions before it are gone: a watch from one of them ends with 410 Gone once the API server's
    /// watch cache no longer holds it. Returns the compacted revision.
    /// </summary>
    public async Task<long> CompactEtcdAsync(CancellationToken cancellationToken = default)
    {
        using var status = await _etcdHttp.PostAsync(new Uri("/v3/maintenance/status", UriKind.Relative), new StringContent("{}"), cancellationToken);
        var text = await status.Content.ReadAsStringAsync(cancellationToken);
        using var document = JsonDocument.Parse(text);
        var revision = long.Parse(document.RootElement.GetProperty("header").GetProperty("revision").GetString()!, CultureInfo.InvariantCulture);
        var body = $"{{\"revision\":\"{revision.ToString(CultureInfo.InvariantCulture)}\",\"physical\":true}}";
        using var compact = await _etcdHttp.PostAsync(new Uri("/v3/kv/compaction", UriKind.Relative), new StringContent(body), cancellationToken);
        if (!compact.IsSuccessStatusCode)
            throw new InvalidOperationException($"etcd refused to compact at {revision}: {await compact.Content.ReadAsStringAsync(cancellationToken)}");
        return revision;
    }

    private static string TokenFile(string adminToken, IReadOnlyList<KubeTestUser> users)
    {
        var text = new StringBuilder();
        text.Append(adminToken).Append(",admin,admin,\"system:masters\"\n");
        var seen = new HashSet<string>(StringComparer.Ordinal) { adminToken };
        foreach (var user in users)
        {
            if (!seen.Add(user.Token)) throw new ArgumentException($"token of {user.Name} is used twice");
            if (user.Token.Contains(',', StringComparison.Ordinal) || user.Name.Contains(',', StringComparison.Ordinal))
                throw new ArgumentException($"token users may not contain commas: {user.Name}");
            text.Append(user.Token).Append(',').Append(user.Name).Append(',').Append(user.Name).Append(",\"")
                .Append(string.Join(',', user.Groups)).Append("\"\n");
        }
        return text.ToString();
    }

    private async Task<string?> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var stage = "readyz";
        while (clock.Elapsed < timeout)
        {
            if (_etcd.HasExited) return $"etcd exited ({_etcd.ExitCode}):\n{Tail(ReadShared(EtcdLogPath), 3000)}";
            if (_apiServer.HasExited) return $"kube-apiserver exited ({_apiServer.ExitCode}):\n{Tail(ApiServerLog, 4000)}";
            try
            {
                // Ready, and the bootstrap controller has created the default namespace (not part of /readyz).
                var path = stage == "readyz" ? "/readyz" : "/api/v1/namespaces/default";
                using var response = await _http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    if (stage != "readyz") return null;
                    stage = "default namespace";
                    continue;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A request timed out while etcd starts.
            }
            await Task.Delay(100, cancellationToken);
        }
        return $"no {stage} within {timeout.TotalSeconds:0}s; kube-apiserver log:\n{Tail(ApiServerLog, 4000)}\netcd log:\n{Tail(ReadShared(EtcdLogPath), 2000)}";
    }

    private static Process Start(string program, string dir, string logFile, IEnumerable<string> args)
    {
        // sh only redirects the output to the log file, then becomes the program (exec): the process id is its own.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = dir };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec \"$0\" \"$@\" >>{logFile} 2>&1");
        info.ArgumentList.Add(program);
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException("cannot start " + program);
    }

    private static bool TrustedBy(X509Certificate2 ca, X509Certificate2 server)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        Kill(_apiServer);
        Kill(_etcd);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill();
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private async Task StopProcessesAsync()
    {
        // The API server first, so that it does not log etcd's absence; then etcd.
        foreach (var process in new[] { _apiServer, _etcd })
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15), TimeProvider.System);
                    await process.WaitForExitAsync(wait.Token);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
            {
                // Already gone, or not stopping: nothing more to do from a test.
            }
            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        _http.Dispose();
        _etcdHttp.Dispose();
        await StopProcessesAsync();
        TryDelete(Dir);
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file still held open; the temp folder is cleaned eventually.
        }
    }

    private static string Base64File(string path) => Convert.ToBase64String(File.ReadAllBytes(path));

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Sanitize(string value)
    {
        var text = new StringBuilder();
        foreach (var c in value.ToLowerInvariant()) text.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        return text.ToString().Trim('-') is { Length: > 0 } s ? s[..Math.Min(s.Length, 40)].Trim('-') : "x";
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string Tail(string text, int characters) => text.Length <= characters ? text : "…" + text[^characters..];

    public override string ToString() => $"kube-apiserver at {Url} (etcd {EtcdUrl}, folder {Dir})";
}

/// <summary>
/// One <see cref="KubeApiServer"/> for a test collection (default options). In the test project:
/// <c>[CollectionDefinition("kube")] public sealed class KubeCollection : ICollectionFixture&lt;KubeApiServerFixture&gt;;</c>
/// then <c>[Collection("kube")]</c> on the test classes, which take the fixture in their constructor.
/// </summary>
public sealed class KubeApiServerFixture : IAsyncLifetime
{
    private KubeApiServer? _server;

    /// <summary>The running server; throws when it could not start (with the reason).</summary>
    public KubeApiServer Server => _server ?? throw new InvalidOperationException("the kube-apiserver fixture is not started: " + StartFailure);

    /// <summary>Why the start failed, if it did.</summary>
    public string? StartFailure { get; private set; }

    public async Task InitializeAsync()
    {
        try
        {
            _server = await KubeApiServer.StartAsync();
        }
        catch (Exception e)
        {
            // xunit reports a fixture failure on every test of the collection; keep the reason for Server too.
            StartFailure = e.ToString();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

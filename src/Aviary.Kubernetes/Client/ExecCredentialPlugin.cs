using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// A kubeconfig <c>exec</c> credential plugin (<c>client.authentication.k8s.io/v1</c> or <c>v1beta1</c>
/// ExecCredential), as EKS (<c>aws eks get-token</c>), GKE (<c>gke-gcloud-auth-plugin</c>) and AKS (<c>kubelogin</c>)
/// use: the client runs the command with <c>KUBERNETES_EXEC_INFO</c> set, reads the ExecCredential it prints, and
/// sends its token until <c>expirationTimestamp</c>, or until the server answers 401, then runs it again, as client-go
/// does. What the plugin prints is never logged or shown in an error (it holds the token); its stderr may be.
/// </summary>
public sealed record ExecCredentialPlugin
{
    public const string V1 = "client.authentication.k8s.io/v1";
    public const string V1Beta1 = "client.authentication.k8s.io/v1beta1";

    /// <summary>The program (a path relative to the kubeconfig's folder when it has a slash, else looked up in PATH).</summary>
    public required string Command { get; init; }

    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Environment variables added for the plugin.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];

    public required string ApiVersion { get; init; }

    /// <summary>Shown when the program is missing (the kubeconfig's <c>installHint</c>).</summary>
    public string? InstallHint { get; init; }

    /// <summary>The cluster as <c>spec.cluster</c> of the ExecCredential, when the kubeconfig sets <c>provideClusterInfo</c>.</summary>
    public JsonObject? Cluster { get; init; }

    /// <summary>Where the user is named in the kubeconfig, for messages.</summary>
    public string Where { get; init; } = "the exec plugin";

    /// <summary>How long the plugin may run.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Runs the plugin: its token and when it expires (null: until the server refuses it), or why not.</summary>
    public (string? Token, DateTimeOffset? Expires, string? Error) Run()
    {
        var info = new ProcessStartInfo(Command)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in Args) info.ArgumentList.Add(a);
        foreach (var (name, value) in Env) info.Environment[name] = value;
        var spec = new JsonObject { ["interactive"] = false };
        if (Cluster is not null) spec["cluster"] = Cluster.DeepClone();
        info.Environment["KUBERNETES_EXEC_INFO"] = new JsonObject { ["apiVersion"] = ApiVersion, ["kind"] = "ExecCredential", ["spec"] = spec }.ToJsonString();
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (null, null, $"{Where}: cannot run the exec plugin '{Command}': {e.Message}{(string.IsNullOrEmpty(InstallHint) ? "" : $"\n{InstallHint.Trim()}")}");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                return (null, null, $"{Where}: the exec plugin '{Command}' gave no credential within {Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                var last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
                return (null, null, $"{Where}: the exec plugin '{Command}' exited with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)}{(last is null ? "" : $": {last}")}");
            }
            return Parse(stdout.Result);
        }
    }

    private (string? Token, DateTimeOffset? Expires, string? Error) Parse(string output)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(output);
        }
        catch (JsonException)
        {
            return (null, null, $"{Where}: the exec plugin '{Command}' did not print an ExecCredential (its output is not JSON)");
        }
        if (node?["kind"]?.GetValueKind() != JsonValueKind.String || node["kind"]!.GetValue<string>() != "ExecCredential")
            return (null, null, $"{Where}: the exec plugin '{Command}' printed JSON that is not an ExecCredential (kind)");
        var version = node["apiVersion"]?.GetValueKind() == JsonValueKind.String ? node["apiVersion"]!.GetValue<string>() : "";
        if (version != ApiVersion)
            return (null, null, $"{Where}: the exec plugin '{Command}' answered apiVersion '{version}', not the kubeconfig's {ApiVersion}");
        var status = node["status"] as JsonObject;
        if (status?["token"]?.GetValueKind() != JsonValueKind.String || status["token"]!.GetValue<string>().Length == 0)
        {
            return (null, null, status?["clientCertificateData"] is not null
                ? $"{Where}: the exec plugin '{Command}' answered with a client certificate; Aviary's client takes tokens from exec plugins only"
                : $"{Where}: the exec plugin '{Command}' answered no status.token");
        }
        DateTimeOffset? expires = null;
        if (status["expirationTimestamp"] is { } ts)
        {
            if (ts.GetValueKind() != JsonValueKind.String ||
                !DateTimeOffset.TryParse(ts.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var e))
                return (null, null, $"{Where}: the exec plugin '{Command}' answered a status.expirationTimestamp that is not an RFC 3339 time");
            expires = e;
        }
        return (status["token"]!.GetValue<string>(), expires, null);
    }

    public override string ToString() => $"exec plugin {Command}";
}

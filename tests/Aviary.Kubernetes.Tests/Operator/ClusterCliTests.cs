using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Aviary.Local.Workloads;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The CLI against a cluster, as its users run it: kubectl's flags, `kubectl aviary` as a plugin found on PATH, the
/// users' own credentials (so RBAC decides), -o json|yaml|wide, and `get --watch` piped, one line per change.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class ClusterCliTests(OperatorCluster cluster)
{
    private sealed record Run(int Exit, string Out, string Err);

    /// <summary>Runs <paramref name="program"/> (dotnet for the CLI, or kubectl) to its end.</summary>
    private static async Task<Run> RunAsync(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) info.Environment[k] = v;
        info.Environment.Remove("AVIARY_KUBECTL_PLUGIN");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new Run(process.ExitCode, await stdout, await stderr);
    }

    private static Task<Run> AviaryAsync(params string[] args) => RunAsync("dotnet", [SeedCliTests.AviaryDll, .. args]);

    /// <summary>A folder with a <c>kubectl-aviary</c> like the repository's (which runs ./aviary), running the tests' build.</summary>
    private static string PluginFolder()
    {
        var dir = Directory.CreateTempSubdirectory("aviary-plugin-").FullName;
        var script = Path.Combine(dir, "kubectl-aviary");
        File.WriteAllText(script, $"#!/bin/sh\nexport AVIARY_KUBECTL_PLUGIN=1\nexec dotnet '{SeedCliTests.AviaryDll}' \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    [Fact]
    public async Task Cli_AgainstTheCluster_ListsAsAPluginWatchesAndPromotesOnlyWhereRbacAllows()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "cli" });
        var ns = bed.Namespace;
        await bed.ApplyAsync(CanaryRbac.Yaml(ns));
        var viewer = bed.Server.WriteKubeconfig($"system:serviceaccount:{ns}:viewer", token: await bed.Server.CreateServiceAccountTokenAsync(ns, "viewer"), @namespace: ns);
        var releaser = bed.Server.WriteKubeconfig($"system:serviceaccount:{ns}:releaser", token: await bed.Server.CreateServiceAccountTokenAsync(ns, "releaser"));
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary(interval: "1s", stepWeight: 5, maxWeight: 50));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        // kubectl finds the plugin on PATH; it uses kubectl's kubeconfig and lists every namespace.
        var plugin = await RunAsync(bed.Server.Tools.Kubectl, ["aviary", "get", "canaries", "-A"], new Dictionary<string, string>
        {
            ["PATH"] = $"{PluginFolder()}:{Environment.GetEnvironmentVariable("PATH")}",
            ["KUBECONFIG"] = bed.Server.AdminKubeconfig,
        });
        Assert.True(plugin.Exit == 0, plugin.ToString());
        var lines = plugin.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^NAMESPACE\s+NAME\s+STATUS\s+WEIGHT\s+LASTTRANSITIONTIME$", lines[0]);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^{ns}\s+podinfo\s+Initialized\s+0\s+\d{{4}}-"));

        // The viewer's context namespace is the test's; -o json is kubectl's List, -o wide adds columns.
        var json = await AviaryAsync("get", "canaries", "--kubeconfig", viewer, "-o", "json");
        Assert.True(json.Exit == 0, json.ToString());
        var list = JsonNode.Parse(json.Out)!;
        Assert.Equal("List", list["kind"]!.GetValue<string>());
        Assert.Equal("podinfo", list["items"]![0]!["metadata"]!["name"]!.GetValue<string>());
        var yaml = await AviaryAsync("get", "canaries", "--kubeconfig", viewer, "-o", "yaml");
        Assert.Contains("kind: \"List\"", yaml.Out, StringComparison.Ordinal);
        Assert.Contains("  - apiVersion: \"flagger.app/v1beta1\"", yaml.Out.Replace("\n- ", "\n  - ", StringComparison.Ordinal), StringComparison.Ordinal);
        var wide = await AviaryAsync("get", "canaries", "--kubeconfig", viewer, "-o", "wide");
        Assert.Matches(@"^NAME\s+STATUS\s+WEIGHT\s+LASTTRANSITIONTIME\s+FAILEDCHECKS\s+ITERATIONS\s+TARGET\s+PROVIDER\n", wide.Out);
        Assert.Contains("Deployment/podinfo", wide.Out, StringComparison.Ordinal);
        // RBAC: the viewer may not list other namespaces.
        var all = await AviaryAsync("get", "canaries", "--kubeconfig", viewer, "-A");
        Assert.Equal(1, all.Exit);
        Assert.Contains("refused by the cluster", all.Err, StringComparison.Ordinal);

        // `get --watch`, piped: the table once, then one line per change, as the rollout advances.
        var watchInfo = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { SeedCliTests.AviaryDll, "get", "canaries", "--watch", "--kubeconfig", viewer }) watchInfo.ArgumentList.Add(a);
        using var watch = Process.Start(watchInfo)!;
        var watched = new ConcurrentQueue<string>();
        watch.OutputDataReceived += (_, e) => { if (e.Data is not null) watched.Enqueue(e.Data); };
        watch.ErrorDataReceived += (_, e) => { if (e.Data is not null) watched.Enqueue("stderr: " + e.Data); };
        watch.BeginOutputReadLine();
        watch.BeginErrorReadLine();
        try
        {
            await Eventually.True(() => watched.Any(l => l.StartsWith("podinfo", StringComparison.Ordinal) && l.Contains("Initialized", StringComparison.Ordinal)),
                describe: () => string.Join("\n", watched));
            await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
            await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");
            await Eventually.True(() => watched.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^podinfo\s+Progressing\s+(10|15|20|25)\s")),
                describe: () => string.Join("\n", watched));
            Assert.Single(watched, l => l.StartsWith("NAME", StringComparison.Ordinal));

            // The viewer is refused the promote by RBAC; the releaser's promote is the annotation the operator honours.
            var refused = await AviaryAsync("promote", "podinfo", "--kubeconfig", viewer);
            Assert.Equal(1, refused.Exit);
            Assert.Contains("aviary promote: refused by the cluster:", refused.Err, StringComparison.Ordinal);
            Assert.Contains("cannot patch resource \"canaries\"", refused.Err, StringComparison.Ordinal);
            var promoted = await AviaryAsync("promote", "-n", ns, "podinfo", "--kubeconfig", releaser, "--context", "aviary-test");
            Assert.True(promoted.Exit == 0, promoted.ToString());
            await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
            Assert.Contains(bed.EventMessages(), m => m.StartsWith("Promote requested by ", StringComparison.Ordinal) && m.Contains("(aviary promote, ", StringComparison.Ordinal));
            await Eventually.True(() => watched.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^podinfo\s+Succeeded\s+0\s")),
                describe: () => string.Join("\n", watched));
        }
        finally
        {
            Processes.Signal(watch.Id, Processes.SIGTERM);
            if (!watch.WaitForExit(TimeSpan.FromSeconds(30))) watch.Kill(entireProcessTree: true);
        }

        var describe = await AviaryAsync("describe", "canary", "podinfo", "--kubeconfig", viewer);
        Assert.True(describe.Exit == 0, describe.ToString());
        Assert.Contains("  Phase:                 Succeeded", describe.Out, StringComparison.Ordinal);
        Assert.Contains("Promotion completed! Scaling down podinfo.", describe.Out, StringComparison.Ordinal);
        var events = await AviaryAsync("events", "--canary", "podinfo", "--kubeconfig", viewer, "-o", "json");
        Assert.True(events.Exit == 0, events.ToString());
        Assert.Contains(events.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => JsonNode.Parse(l)!["message"]!.GetValue<string>().StartsWith("Promotion completed!", StringComparison.Ordinal));
    }
}

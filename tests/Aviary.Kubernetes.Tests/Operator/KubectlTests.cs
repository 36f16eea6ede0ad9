using System.Globalization;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>What users see with kubectl: the Canary's printer columns, and the kustomize base of <c>deploy/kubernetes</c>.</summary>
[Collection(OperatorCollection.Name)]
public sealed class KubectlTests(OperatorCluster cluster)
{
    [Fact]
    public async Task GetCanaries_DuringARollout_ShowsStatusAndWeightColumns()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd" });
        await bed.ApplyAsync(SeedTests.PodinfoYaml());
        await bed.ApplyAsync(SeedTests.LinkerdCanaryYaml("3s"));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));

        var initialized = Table(await bed.KubectlAsync("get", "canaries"));
        Assert.Equal(["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"], initialized.Header);
        Assert.Equal(["podinfo", "Initialized", "0"], Assert.Single(initialized.Rows)[..3]);

        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:1.7.1");
        (string[] Header, List<string[]> Rows) progressing = ([], []);
        await bed.WaitUntilAsync(async () =>
        {
            // As in seed 2: watch kubectl get canaries --all-namespaces.
            progressing = Table(await bed.KubectlAsync("get", "canaries", "--all-namespaces"));
            var row = progressing.Rows.SingleOrDefault(r => r[0] == bed.Namespace);
            return row is not null && row[2] == "Progressing" && int.Parse(row[3], CultureInfo.InvariantCulture) > 0;
        }, TimeSpan.FromSeconds(60), "a Progressing row with a weight in kubectl get canaries");
        Assert.Equal(["NAMESPACE", "NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"], progressing.Header);
        var weight = int.Parse(progressing.Rows.Single(r => r[0] == bed.Namespace)[3], CultureInfo.InvariantCulture);
        Assert.True(weight % 10 == 0 && weight is > 0 and <= 100, $"weight {weight}");

        // -o wide adds the analysis settings and the failed checks.
        var wide = Table(await bed.KubectlAsync("get", "canaries", "-o", "wide"));
        Assert.Equal(["NAME", "STATUS", "WEIGHT", "SUSPENDED", "FAILEDCHECKS", "INTERVAL", "MIRROR", "STEPWEIGHT", "STEPWEIGHTS", "MAXWEIGHT", "LASTTRANSITIONTIME"],
            wide.Header);
        var wideRow = Assert.Single(wide.Rows);
        Assert.Equal(("3s", "10", "100"), (wideRow[5], wideRow[7], wideRow[9]));
    }

    [Fact]
    public async Task ApplyKustomize_DryRunServer_AcceptsEveryObjectOfDeploy()
    {
        var result = await cluster.Server.RunKubectlAsync(["apply", "--dry-run=server", "-k", OperatorCluster.DeployFolder]);
        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var name in new[]
        {
            "namespace/aviary", "customresourcedefinition.apiextensions.k8s.io/canaries.flagger.app",
            "customresourcedefinition.apiextensions.k8s.io/metrictemplates.flagger.app", "customresourcedefinition.apiextensions.k8s.io/alertproviders.flagger.app",
            "serviceaccount/aviary", "clusterrole.rbac.authorization.k8s.io/aviary", "clusterrolebinding.rbac.authorization.k8s.io/aviary",
            "service/aviary", "deployment.apps/aviary",
        })
        {
            Assert.True(lines.Any(l => l.StartsWith(name + " ", StringComparison.Ordinal) && l.EndsWith("(server dry run)", StringComparison.Ordinal)),
                $"{name} is not in the dry run:\n{result.Stdout}");
        }

        // The base renders the operator as the issue asks: 2 replicas, non-root, read-only root filesystem, probes.
        var rendered = await cluster.Server.RunKubectlAsync(["kustomize", OperatorCluster.DeployFolder]);
        Assert.True(rendered.Succeeded, rendered.ToString());
        foreach (var expected in new[] { "replicas: 2", "runAsNonRoot: true", "readOnlyRootFilesystem: true", "readinessProbe:", "livenessProbe:", "serviceAccountName: aviary" })
            Assert.Contains(expected, rendered.Stdout, StringComparison.Ordinal);
    }

    /// <summary>kubectl's table output: the header's columns and each row's cells, cut at the header's column offsets (a cell may be empty).</summary>
    private static (string[] Header, List<string[]> Rows) Table(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0];
        var starts = new List<int>();
        for (var i = 0; i < header.Length; i++)
            if (header[i] != ' ' && (i == 0 || header[i - 1] == ' ')) starts.Add(i);
        string Cell(string line, int column)
        {
            var from = starts[column];
            var to = column + 1 < starts.Count ? starts[column + 1] : int.MaxValue;
            return from >= line.Length ? "" : line[from..Math.Min(to, line.Length)].Trim();
        }
        var columns = Enumerable.Range(0, starts.Count);
        return ([.. columns.Select(c => Cell(header, c))], [.. lines.Skip(1).Select(l => columns.Select(c => Cell(l, c)).ToArray())]);
    }
}

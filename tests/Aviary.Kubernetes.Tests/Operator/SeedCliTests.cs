using System.Diagnostics;
using System.Globalization;
using System.Text;
using Aviary.Local.Workloads;
using Aviary.TestKit;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Seed 1's initialisation with the operator as a user runs it out of cluster: <c>aviary operator --kubeconfig …</c>
/// in its own process, authenticated as the ServiceAccount of <c>deploy/</c>, stopped with SIGTERM.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class SeedCliTests(OperatorCluster cluster)
{
    /// <summary>The CLI the solution build produced, in the test's configuration (Release or Debug).</summary>
    internal static string AviaryDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
            var dll = Path.Combine(RepoPaths.Root, "src", "Aviary.Cli", "bin", configuration, "net10.0", "aviary.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution (dotnet build Aviary.slnx -c {configuration})");
        }
    }

    [Fact]
    public async Task AviaryOperatorProcess_AsTheServiceAccount_InitializesAndReleasesItsLeaseOnSigterm()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", Replicas = 0 });
        var url = bed.OperatorUrl(0);
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            AviaryDll, "operator", "--kubeconfig", cluster.OperatorKubeconfig, "--namespace", bed.Namespace,
            "--listen", url.Authority, "--leader-election-namespace", bed.Namespace, "--lease-name", bed.LeaseName, "--identity", "cli-0",
            "--metrics-server", bed.Prometheus.Url.ToString(),
        })
        {
            info.ArgumentList.Add(a);
        }
        var output = new StringBuilder();
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Output()
        {
            lock (output) return output.ToString();
        }
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await bed.WaitUntilAsync(async () =>
            {
                Assert.False(process.HasExited, $"aviary operator exited ({(process.HasExited ? process.ExitCode : 0)}):\n{Output()}");
                try
                {
                    using var ready = await http.GetAsync(new Uri(url, "/readyz"));
                    return ready.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), "/readyz of the aviary operator process");

            // The CLI has no mesh provider flag: the Canary names its provider.
            await bed.ApplyAsync(SeedTests.PodinfoYaml());
            await bed.ApplyAsync(SeedTests.LinkerdCanaryYaml().Replace("spec:\n", "spec:\n  provider: linkerd\n", StringComparison.Ordinal));
            await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
            // Events arrive by watch, after the status the phase was read from.
            await bed.WaitForEventAsync($"Initialization done! podinfo.{bed.Namespace}");
            Assert.Equal("cli-0", await bed.LeaderAsync());
            var metrics = await http.GetStringAsync(new Uri(url, "/metrics"));
            Assert.Contains(metrics.Split('\n'), l => l.StartsWith("flagger_canary_status{", StringComparison.Ordinal)
                && l.Contains("name=\"podinfo\"", StringComparison.Ordinal) && l.Contains($"namespace=\"{bed.Namespace}\"", StringComparison.Ordinal));

            Processes.Signal(process.Id, Processes.SIGTERM);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30), TimeProvider.System);
            await process.WaitForExitAsync(exit.Token);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode.ToString(CultureInfo.InvariantCulture)}:\n{Output()}");
            // A graceful stop hands the lease over at once.
            Assert.True(string.IsNullOrEmpty(await bed.LeaderAsync()), Output());
            Assert.DoesNotContain("Forbidden", Output(), StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Aviary.Cli;
using Aviary.Core.Model;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Aviary.TestKit;

namespace Aviary.Local.Tests;

/// <summary>
/// examples/haproxy as a user runs it: `aviary run` (its own process) with provider: haproxy and a Prometheus
/// MetricTemplate; `aviary apply` of a good release promotes it and of a bad one rolls it back.
/// </summary>
[Collection("local runtime")]
public sealed class HAProxyExampleTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Run_HAProxyExampleWithMetricTemplate_PromotesTheGoodReleaseAndRollsBackTheBadOne()
    {
        DebianPackages.Ensure("haproxy", "prometheus");
        await using var bed = new LocalTestBed();
        await using var prometheus = await PrometheusServer.StartAsync(
            new ScrapeTarget("aviary", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}"),
            new ScrapeTarget("haproxy", $"127.0.0.1:{bed.HAProxyMetricsPort.ToString(CultureInfo.InvariantCulture)}"));
        string Adapt(string yaml) => yaml
            .Replace("http://127.0.0.1:9090", prometheus.Url.ToString().TrimEnd('/'), StringComparison.Ordinal)
            .Replace("port: 9898", $"port: {bed.Port.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)
            .Replace("../../.build/cli/Aviary.Demo.dll", LocalTestBed.DemoDll, StringComparison.Ordinal)
            .Replace("interval: 20s", "interval: 10s", StringComparison.Ordinal);
        var example = Path.Combine(RepoPaths.Examples, "haproxy");
        File.WriteAllText(Path.Combine(bed.Manifests, "podinfo.yaml"), Adapt(File.ReadAllText(Path.Combine(example, "podinfo.yaml"))));
        foreach (var release in new[] { "podinfo-v2.yaml", "podinfo-v3-bad.yaml" })
            File.WriteAllText(Path.Combine(bed.Dir, release), Adapt(File.ReadAllText(Path.Combine(example, release))));

        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "aviary.dll"), "run", "-f", bed.Manifests, "--state", bed.State,
                     "--api", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}",
                     "--haproxy-metrics-port", bed.HAProxyMetricsPort.ToString(CultureInfo.InvariantCulture), "--output", "json" })
            info.ArgumentList.Add(a);
        using var controller = Process.Start(info)!;
        controller.OutputDataReceived += (_, _) => { };
        controller.ErrorDataReceived += (_, _) => { };
        controller.BeginOutputReadLine();
        controller.BeginErrorReadLine();
        try
        {
            await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
            await prometheus.WaitForTargetUpAsync("haproxy");
            bed.StartLoad();
            var v1 = bed.Status!.LastPromotedSpec;

            Assert.Equal(0, await ApplyAsync(bed, "podinfo-v2.yaml"));
            await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != v1, "promotion of v2");
            Assert.Contains(StateStore.Open(Path.Combine(bed.State, "state.db")).Checks("podinfo.test", 100),
                c => c.Name == "error-rate" && c.Result == Core.Scheduling.CheckResult.Pass);
            var v2 = bed.Status!.LastPromotedSpec;

            // The 10s query window must no longer hold the previous canary's answers: ask Prometheus until it says so.
            await prometheus.WaitForValueAsync(
                "sum(increase(haproxy_server_http_responses_total{proxy=\"podinfo.test\",server=~\"canary[0-9]+\"}[10s])) or vector(0)",
                v => v == 0, Minute);
            Assert.Equal(0, await ApplyAsync(bed, "podinfo-v3-bad.yaml"));
            await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute * 2);
            Assert.Contains(bed.Events, e => e.StartsWith("Halt podinfo.test advancement error-rate", StringComparison.Ordinal));
            Assert.Equal(v2, bed.Status!.LastPromotedSpec);
            // The only failures are the bad release's own 500s: HAProxy never failed a request by itself.
            Assert.DoesNotContain(bed.Traffic!.Results, r => r.Status is 0 or 502 or 503 or 504);
        }
        finally
        {
            Processes.Signal(controller.Id, Processes.SIGTERM);
            if (!controller.WaitForExit(60_000)) controller.Kill(entireProcessTree: true);
            foreach (var i in StateStore.Open(Path.Combine(bed.State, "state.db")).Instances()) Processes.Signal(i.Pid, Processes.SIGKILL);
        }
    }

    private static async Task<int> ApplyAsync(LocalTestBed bed, string file)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var exit = await CliApp.RunAsync(["apply", "-f", Path.Combine(bed.Dir, file), "--state", bed.State], o, e);
        Assert.True(exit == 0, e.ToString());
        return exit;
    }
}

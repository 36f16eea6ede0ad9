using Aviary.TestKit;
using System.Diagnostics;
using Aviary.Core.Model;
using Aviary.Local.Store;
using Aviary.Local.Workloads;

namespace Aviary.Local.Tests;

/// <summary>The controller, run as `aviary run` in its own process, is killed with SIGKILL mid-analysis and restarted.</summary>
[Collection("local runtime")]
public sealed class ControllerRestartTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static Process StartController(LocalTestBed bed)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "aviary.dll"), "run", "-f", bed.Manifests, "--state", bed.State, "--api", "127.0.0.1:0", "--output", "json" })
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private const int LoadConcurrency = 4;

    [Fact]
    public async Task Controller_KilledWithSigkillMidAnalysis_ResumesToTheSameEndState()
    {
        await using var bed = new LocalTestBed();
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary("""
            interval: 1s
            threshold: 3
            stepWeight: 10
            maxWeight: 50
            metrics:
              - name: request-success-rate
                thresholdRange: {min: 99}
                interval: 3s
            """);
        var controller = StartController(bed);
        List<InstanceRecord> orphans;
        try
        {
            await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
            bed.StartLoad(LoadConcurrency);
            var initial = bed.Status!.LastPromotedSpec;
            bed.WriteWorkload("--version 2.0.0");
            await bed.WaitForAsync(Minute, s => s.Phase == CanaryPhase.Progressing && s.CanaryWeight >= 20, "analysis at 20%");

            orphans = bed.Store.Instances("podinfo.test").ToList();
            var killedAt = TimeProvider.System.GetUtcNow();
            controller.Kill(entireProcessTree: false); // SIGKILL
            await controller.WaitForExitAsync();
            Assert.Contains(orphans, o => o.Role == "canary");
            Assert.All(orphans, o => Assert.True(Processes.IsAlive(o.Pid, o.StartTicks), $"{o.Id} died with the controller"));

            // The router is down with the controller: clients get refused connections.
            await Eventually.True(() => bed.Traffic!.Results.Count(r => r.Status == 0 && r.Time > killedAt) >= LoadConcurrency,
                Minute, what: "refused connections while no controller runs");
            var restartedAt = TimeProvider.System.GetUtcNow();
            controller = StartController(bed);
            await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != initial, "promotion after restart");
            var answered = bed.Traffic!.Results.Count;
            await Eventually.True(() => bed.Traffic.Results.Count >= answered + 20, Minute, what: "20 more requests after the promotion");

            var results = bed.Traffic!.Results.ToList();
            // Never routed to a dead instance: no 502/503/504 from the router at any time.
            Assert.DoesNotContain(results, r => r.Status >= 500);
            // Refused connections only while no controller ran, never before the kill.
            Assert.DoesNotContain(results, r => r.Status == 0 && r.Time < killedAt);
            // Once the restarted router answered, it kept answering: no request sent after its first answer was refused,
            // but for at most one per worker that a pooled connection of the dead router took (the pool learns of each
            // dead connection by using it). Judged by when requests were sent, not when they completed: under CPU pressure a continuation can record
            // an answer of the old router (or a refusal of the downtime) seconds late, which made completion times
            // look like the new router had answered and then gone away (the "268 refused connections" failure).
            var firstAfter = results.Where(r => r.Sent > restartedAt && r.Status == 200).Min(r => r.Time);
            var late = results.Where(r => r.Status == 0 && r.Sent > firstAfter).ToList();
            Assert.True(late.Count <= LoadConcurrency, $"{late.Count} requests refused after the restarted router first answered: " +
                string.Join("; ", late.GroupBy(r => r.Error)
                    .Select(g => $"{g.Count()}× '{g.Key}' sent from +{(g.Min(r => r.Sent) - firstAfter).TotalMilliseconds:0} ms to +{(g.Max(r => r.Sent) - firstAfter).TotalMilliseconds:0} ms")) +
                $"; killed at {killedAt:HH:mm:ss.fff}, restarted at {restartedAt:HH:mm:ss.fff}, first answer {firstAfter:HH:mm:ss.fff}");
            Assert.Single(bed.Events, e => e == "Copying podinfo.test template spec to podinfo-primary.test");
            Assert.Single(bed.Events, e => e == "Promotion completed! Scaling down podinfo.test");
            Assert.Contains(results, r => r.Body?.Contains("\"version\":\"2.0.0\"", StringComparison.Ordinal) == true);

            // Orphans were adopted (the primary kept serving) or stopped; nothing is left but the recorded instances.
            var live = bed.Store.Instances("podinfo.test");
            Assert.Single(live);
            Assert.Equal("primary", live[0].Role);
            foreach (var o in orphans.Where(o => live.All(l => l.Id != o.Id)))
                Assert.False(Processes.IsAlive(o.Pid, o.StartTicks), $"orphan {o.Id} (pid {o.Pid}) is still running");
        }
        finally
        {
            if (!controller.HasExited)
            {
                Processes.Signal(controller.Id, Processes.SIGTERM);
                if (!controller.WaitForExit(30_000)) controller.Kill(entireProcessTree: true);
            }
            foreach (var i in StateStore.Open(Path.Combine(bed.State, "state.db")).Instances())
                Processes.Signal(i.Pid, Processes.SIGKILL);
        }
    }

    [Fact]
    public async Task Controller_KilledFiveTimesDuringAHealthyRollout_StillPromotesWithoutAFailedCheck()
    {
        // The built-in router's counters live in the controller's memory: after each restart the metric window starts
        // empty. That must hold the step (and say so), never count as a failed check: threshold 3 < 5 restarts.
        await using var bed = new LocalTestBed();
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary("""
            interval: 1s
            threshold: 3
            stepWeight: 5
            maxWeight: 50
            metrics:
              - name: request-success-rate
                thresholdRange: {min: 99}
                interval: 3s
              - name: request-duration
                thresholdRange: {max: 1500}
                interval: 3s
            """);
        var controller = StartController(bed);
        try
        {
            await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
            bed.StartLoad(LoadConcurrency);
            var initial = bed.Status!.LastPromotedSpec;
            bed.WriteWorkload("--version 2.0.0");
            var weight = 0;
            for (var kill = 1; kill <= 5; kill++)
            {
                var above = weight;
                await bed.WaitForAsync(Minute * 2, s => s.Phase == CanaryPhase.Progressing && s.CanaryWeight > above,
                    $"analysis above {above}% before kill {kill}");
                weight = bed.Status!.CanaryWeight;
                controller.Kill(entireProcessTree: false); // SIGKILL
                await controller.WaitForExitAsync();
                controller = StartController(bed);
            }
            await bed.WaitForAsync(Minute * 2, s => s.Phase is CanaryPhase.Succeeded or CanaryPhase.Failed && s.LastAppliedSpec != initial, "the end of the rollout");

            var events = bed.Events.ToList();
            Assert.True(bed.Status!.Phase == CanaryPhase.Succeeded, $"not promoted; events:\n  {string.Join("\n  ", events.TakeLast(30))}");
            Assert.Equal(0, bed.Status.FailedChecks);
            Assert.DoesNotContain(events, e => e.Contains("no values found", StringComparison.Ordinal));
            Assert.Contains(events, e => e.StartsWith("Check of request-success-rate skipped: the router started counting less than 3s ago (the controller restarted)", StringComparison.Ordinal));
            Assert.Single(events, e => e == "Promotion completed! Scaling down podinfo.test");
        }
        finally
        {
            if (!controller.HasExited)
            {
                Processes.Signal(controller.Id, Processes.SIGTERM);
                if (!controller.WaitForExit(30_000)) controller.Kill(entireProcessTree: true);
            }
            foreach (var i in StateStore.Open(Path.Combine(bed.State, "state.db")).Instances())
                Processes.Signal(i.Pid, Processes.SIGKILL);
        }
    }
}

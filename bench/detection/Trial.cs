using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Core.Simulation;

namespace Aviary.Bench.Detection;

internal enum Verdict
{
    RolledBack,
    Promoted,
    Undecided,
}

/// <param name="Minutes">From the canary's first traffic to the decision (or to the end of the trial when undecided).</param>
/// <param name="CausedErrors">Requests that failed only because the canary answered them, until the decision.</param>
/// <param name="CanaryRequests">Requests the canary answered until the decision.</param>
internal readonly record struct TrialResult(Verdict Verdict, double Minutes, long CausedErrors, long CanaryRequests);

internal static class Trial
{
    /// <summary>Analysis ticks after which a trial that neither promoted nor rolled back counts as undecided.</summary>
    public const int MaxTicks = 120;

    /// <summary>Looks strictly inside one interval: 1m every 10s is 5 looks, then the tick.</summary>
    private static int LooksPerInterval(TimeSpan interval, TimeSpan look) => (int)Math.Ceiling(interval / look) - 1;

    public static CanaryPolicy Compile(string analysis)
    {
        var yaml = "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: bench\n  namespace: test\nspec:\n" +
            "  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: bench\n  service:\n    port: 9898\n  analysis:\n" +
            string.Concat(analysis.Replace("\r", "", StringComparison.Ordinal).Split('\n').Where(l => l.Trim().Length > 0).Select(l => "    " + l + "\n"));
        var doc = ManifestReader.Read(yaml).Documents.Single(d => d.Kind == "Canary");
        if (!doc.IsValid) throw new InvalidOperationException(string.Join("\n", doc.Diagnostics));
        return (CanaryPolicy)doc.Compiled!;
    }

    /// <summary>One rollout of a new revision through the real scheduler, one analysis interval per minute of traffic.</summary>
    public static async Task<TrialResult> RunAsync(CanaryPolicy policy, World world, Regression regression, ulong seed, ulong trial)
    {
        var clock = new VirtualClock();
        var sim = new SimulatedCanary(world, regression, seed, trial, policy.Judge?.LatencyThresholdMs ?? 500);
        var scheduler = new CanaryScheduler(new SchedulerServices(sim, sim, sim, sim, sim, clock, policy.Judge is null ? null : sim));
        var status = (await scheduler.TickAsync(policy, CanaryStatus.Empty)).Status;
        if (status.Phase != CanaryPhase.Initialized) throw new InvalidOperationException($"not initialized: {status.Phase}");
        sim.NewRevision();
        double minutes = 0; // minutes of canary traffic so far
        var started = false;
        var look = policy.Judge?.LookInterval;
        for (var tick = 0; tick < MaxTicks + 2; tick++)
        {
            clock.Advance(policy.Interval - (look is { } l ? l * LooksPerInterval(policy.Interval, l) : TimeSpan.Zero));
            status = (await scheduler.TickAsync(policy, status)).Status;
            switch (status.Phase)
            {
                case CanaryPhase.Failed:
                    return new TrialResult(Verdict.RolledBack, minutes, sim.CausedErrors, sim.CanaryRequests);
                case CanaryPhase.Promoting or CanaryPhase.Finalising or CanaryPhase.Succeeded:
                    return new TrialResult(Verdict.Promoted, minutes, sim.CausedErrors, sim.CanaryRequests);
            }
            started |= sim.Weights.Canary > 0;
            sim.BeginMinute();
            if (look is { } every)
            {
                // The judge's looks between ticks (analysis.judge.lookInterval): a look only ever rolls back.
                for (var k = 1; k <= LooksPerInterval(policy.Interval, every); k++)
                {
                    sim.ServeUntil((every * k).TotalSeconds);
                    clock.Advance(every);
                    status = (await scheduler.LookAsync(policy, status)).Status;
                    if (status.Phase == CanaryPhase.Failed)
                        return new TrialResult(Verdict.RolledBack, minutes + (started ? (every * k).TotalMinutes : 0), sim.CausedErrors, sim.CanaryRequests);
                }
            }
            sim.ServeUntil(60);
            if (started) minutes++;
        }
        return new TrialResult(Verdict.Undecided, minutes, sim.CausedErrors, sim.CanaryRequests);
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Analysis;
using Xunit.Abstractions;

namespace Aviary.Core.Tests.Analysis;

/// <summary>Seeded binomial traffic for the judge: counts, never clocks.</summary>
internal static class Simulation
{
    /// <summary>Binomial(n, p) by geometric skips: O(n·p) work, exact.</summary>
    public static double Binomial(Random rng, int n, double p)
    {
        if (p <= 0 || n <= 0) return 0;
        if (p >= 1) return n;
        var logQ = Math.Log(1 - p);
        var count = 0;
        var position = 0L;
        while (true)
        {
            position += (long)Math.Floor(Math.Log(1 - rng.NextDouble()) / logQ) + 1;
            if (position > n) return count;
            count++;
        }
    }

    public static ArmCounts Tick(Random rng, int requests, double canaryShare, double primaryErrorRate, double canaryErrorRate,
        double primarySlowRate, double canarySlowRate)
    {
        var n = (int)Binomial(rng, requests, canaryShare);
        var m = requests - n;
        return new ArmCounts(
            new ArmSample(m, Binomial(rng, m, primaryErrorRate), Binomial(rng, m, primarySlowRate)),
            new ArmSample(n, Binomial(rng, n, canaryErrorRate), Binomial(rng, n, canarySlowRate)));
    }
}

/// <summary>
/// The judge's guarantees in simulation, with fixed seeds: the false-rollback bound over whole rollouts (type I), the
/// confidence sequences' coverage, and the power to catch large regressions within the ticks the drift predicts.
/// </summary>
public sealed class SequentialJudgeSimulationTests(ITestOutputHelper output)
{
    private static readonly SequentialJudge Judge = new();

    /// <summary>Realistic rollouts: 60 ticks of 300 to 24,000 requests, the canary's share stepping 5–50%, baselines from 0.1% to 5% errors and 1% to 30% slow.</summary>
    private static (int Requests, double[] Shares, double ErrorRate, double SlowRate) Rollout(Random rng)
    {
        int[] perTick = [300, 1200, 6000, 24000];
        double[] errorRates = [0.001, 0.005, 0.01, 0.05];
        double[] slowRates = [0.01, 0.05, 0.1, 0.3];
        var step = rng.Next(2) == 0 ? 0.05 : 0.10;
        var shares = Enumerable.Range(1, 60).Select(i => Math.Min(0.5, step * i)).ToArray();
        return (perTick[rng.Next(perTick.Length)], shares, errorRates[rng.Next(errorRates.Length)], slowRates[rng.Next(slowRates.Length)]);
    }

    /// <summary>Runs <paramref name="runs"/> whole rollouts and counts those the judge ever rejected.</summary>
    private static int FalseRollbacks(int seed, int runs, double alpha, Func<double, double, double> canaryError, Func<double, double, double> canarySlow)
    {
        var settings = SequentialJudgeTests.Settings(errorMargin: 0.5, latencyMargin: 10, alpha: alpha);
        var rng = new Random(seed);
        var rejected = 0;
        for (var run = 0; run < runs; run++)
        {
            var (requests, shares, errorRate, slowRate) = Rollout(rng);
            JudgeState? state = null;
            foreach (var share in shares)
            {
                var tick = Simulation.Tick(rng, requests, share, errorRate, canaryError(errorRate, settings.MaxErrorRateIncrease / 100),
                    slowRate, canarySlow(slowRate, settings.MaxLatencyIncrease / 100));
                var result = Judge.Evaluate(settings, state, tick);
                state = result.State;
                if (result.Decision == JudgeDecision.Reject)
                {
                    rejected++;
                    break;
                }
            }
        }
        return rejected;
    }

    /// <summary>The bound plus three standard errors of a binomial count with that rate: what 2,000 runs may show by chance.</summary>
    private static double Allowed(int runs, double alpha) => runs * alpha + 3 * Math.Sqrt(runs * alpha * (1 - alpha));

    [Fact]
    public void Evaluate_2000NullRolloutsAtTheMarginBoundary_FalseRollbacksWithinTheBound()
    {
        // The hardest null: the canary is worse by exactly the margins (0.5 pp errors, 10 pp slow), every tick, 60 ticks.
        const int runs = 2000;
        var rejected = FalseRollbacks(seed: 20261122, runs, alpha: 0.01, (p, d) => p + d, (p, d) => p + d);
        output.WriteLine($"{rejected} of {runs} rolled back (bound {runs * 0.01}, allowed {Allowed(runs, 0.01):0.#})");
        Assert.True(rejected <= Allowed(runs, 0.01), $"{rejected} of {runs} rollouts rolled back, allowed {Allowed(runs, 0.01):0.#}");
    }

    [Fact]
    public void Evaluate_2000NullRolloutsAtALooseBound_FalseRollbacksWithinTheBound()
    {
        // falseRollbackRate 0.1 makes the bound observable (at 0.01 Ville's bound leaves the count near zero).
        const int runs = 2000;
        var rejected = FalseRollbacks(seed: 42, runs, alpha: 0.1, (p, d) => p + d, (p, d) => p + d);
        output.WriteLine($"{rejected} of {runs} rolled back (bound {runs * 0.1}, allowed {Allowed(runs, 0.1):0.#})");
        Assert.True(rejected <= Allowed(runs, 0.1), $"{rejected} of {runs} rollouts rolled back, allowed {Allowed(runs, 0.1):0.#}");
    }

    [Fact]
    public void Evaluate_2000IdenticalCanaries_AlmostNeverRolledBack()
    {
        const int runs = 2000;
        var rejected = FalseRollbacks(seed: 7, runs, alpha: 0.01, (p, _) => p, (p, _) => p);
        output.WriteLine($"{rejected} of {runs} rolled back (bound {runs * 0.01}, allowed {Allowed(runs, 0.01):0.#})");
        Assert.True(rejected <= Allowed(runs, 0.01), $"{rejected} of {runs} rollouts rolled back, allowed {Allowed(runs, 0.01):0.#}");
    }

    [Fact]
    public void Evaluate_2000NullRolloutsWithFiveLooksBetweenTicks_FalseRollbacksWithinTheBound()
    {
        // analysis.judge.lookInterval: between two ticks the scheduler peeks five times at what came since the last
        // tick (the state does not change; the tick then weighs the whole interval). At the margin boundary with a
        // loose bound, so that the rate is observable.
        const int runs = 2000;
        const double alpha = 0.1;
        var settings = SequentialJudgeTests.Settings(errorMargin: 0.5, latencyMargin: 10, alpha: alpha);
        var rng = new Random(2026);
        var rejected = 0;
        for (var run = 0; run < runs; run++)
        {
            var (requests, shares, errorRate, slowRate) = Rollout(rng);
            JudgeState? state = null;
            var rolledBack = false;
            foreach (var share in shares)
            {
                var sofar = new ArmCounts(new ArmSample(0, 0, 0), new ArmSample(0, 0, 0));
                for (var look = 1; look <= 6 && !rolledBack; look++)
                {
                    var part = Simulation.Tick(rng, requests / 6, share, errorRate, errorRate + 0.005, slowRate, slowRate + 0.10);
                    sofar = new ArmCounts(sofar.Primary + part.Primary, sofar.Canary + part.Canary);
                    var result = Judge.Evaluate(settings, state, sofar);
                    if (result.Decision == JudgeDecision.Reject) rolledBack = true;
                    else if (look == 6) state = result.State;
                }
                if (rolledBack) break;
            }
            if (rolledBack) rejected++;
        }
        output.WriteLine($"{rejected} of {runs} rolled back (bound {runs * alpha}, allowed {Allowed(runs, alpha):0.#})");
        Assert.True(rejected <= Allowed(runs, alpha), $"{rejected} of {runs} rollouts rolled back, allowed {Allowed(runs, alpha):0.#}");
    }

    [Fact]
    public void Evaluate_NullWithBaselineChangingEveryTick_FalseRollbacksWithinTheBound()
    {
        // The primary's rate is a nuisance that may move: the test needs no estimate of it, only both arms moving together.
        const int runs = 2000;
        const double alpha = 0.1;
        var settings = SequentialJudgeTests.Settings(alpha: alpha);
        var rng = new Random(99);
        var rejected = 0;
        for (var run = 0; run < runs; run++)
        {
            JudgeState? state = null;
            for (var t = 0; t < 30; t++)
            {
                var baseline = 0.001 + 0.1 * rng.NextDouble() * rng.NextDouble();
                var slow = 0.02 + 0.5 * rng.NextDouble();
                var tick = Simulation.Tick(rng, 500 + rng.Next(5000), 0.05 + 0.45 * rng.NextDouble(), baseline, baseline + 0.005, slow, slow + 0.10);
                var result = Judge.Evaluate(settings, state, tick);
                state = result.State;
                if (result.Decision != JudgeDecision.Reject) continue;
                rejected++;
                break;
            }
        }
        output.WriteLine($"{rejected} of {runs} rolled back (bound {runs * alpha}, allowed {Allowed(runs, alpha):0.#})");
        Assert.True(rejected <= Allowed(runs, alpha), $"{rejected} of {runs} rollouts rolled back, allowed {Allowed(runs, alpha):0.#}");
    }

    [Fact]
    public void Evaluate_ConfidenceSequences_CoverTheTrueDifferenceAtEveryTickTogether()
    {
        // Lower (from the reject side) and upper (from the non-inferiority side) bounds each miss with chance ≤ α_metric
        // over all ticks; with α = 0.1 and one metric: the pair misses in at most 20% of runs (plus Monte-Carlo margin).
        const int runs = 1000;
        const double alpha = 0.1;
        var settings = SequentialJudgeTests.Settings(alpha: alpha, latency: false);
        var rng = new Random(2024);
        var missed = 0;
        for (var run = 0; run < runs; run++)
        {
            var baseline = 0.002 + 0.05 * rng.NextDouble();
            var difference = (rng.NextDouble() - 0.3) * 0.02;
            var canary = Math.Clamp(baseline + difference, 0, 1);
            var truth = (canary - baseline) * 100;
            JudgeState? state = null;
            for (var t = 0; t < 30; t++)
            {
                var result = Judge.Evaluate(settings with { MaxErrorRateIncrease = 99 }, state, Simulation.Tick(rng, 3000, 0.1 + 0.4 * rng.NextDouble(), baseline, canary, 0, 0));
                state = result.State;
                var m = result.Metrics[0];
                if (m.Lower <= truth && truth <= m.Upper) continue;
                missed++;
                break;
            }
        }
        output.WriteLine($"{missed} of {runs} runs missed (bound {runs * 2 * alpha})");
        Assert.True(missed <= Allowed(runs, 2 * alpha), $"{missed} of {runs} runs left the truth outside the bounds");
    }

    /// <summary>Ticks until the judge rejects a canary worse by <paramref name="increase"/> (errors), in each of <paramref name="runs"/> rollouts.</summary>
    private static List<int> TicksToReject(int seed, int runs, int requests, double baseline, double increase, double slowIncrease = 0)
    {
        var settings = SequentialJudgeTests.Settings();
        var rng = new Random(seed);
        var ticks = new List<int>();
        for (var run = 0; run < runs; run++)
        {
            JudgeState? state = null;
            var share = 0.1;
            for (var t = 1; t <= 30; t++)
            {
                var result = Judge.Evaluate(settings, state, Simulation.Tick(rng, requests, share, baseline, baseline + increase, 0.1, 0.1 + slowIncrease));
                state = result.State;
                if (result.Decision == JudgeDecision.Reject)
                {
                    ticks.Add(t);
                    break;
                }
                if (result.Decision != JudgeDecision.Inconclusive) share = Math.Min(0.5, share + 0.1);
                if (t == 30) ticks.Add(int.MaxValue);
            }
        }
        ticks.Sort();
        return ticks;
    }

    [Fact]
    public void Evaluate_TenPointErrorRegressionAt100Rps_CaughtOnTheFirstTick()
    {
        // 6,000 requests a minute, 600 on the canary: ~63 canary errors against ~3.6 expected. The best alternative alone
        // gains ~70 nats against ln(200 · 10) ≈ 7.6 needed: the first tick decides.
        var ticks = TicksToReject(seed: 1, runs: 500, requests: 6000, baseline: 0.005, increase: 0.10);
        Assert.All(ticks, t => Assert.Equal(1, t));
    }

    [Fact]
    public void Evaluate_TwoPointErrorRegressionAt100Rps_CaughtWithinThreeTicks()
    {
        // +2 pp over 0.5%: about 4 nats per tick at 10% (600 canary requests), 8 at 20%: two ticks expected, three at most
        // in 95% of runs.
        var ticks = TicksToReject(seed: 2, runs: 500, requests: 6000, baseline: 0.005, increase: 0.02);
        output.WriteLine($"median {ticks[ticks.Count / 2]}, p95 {ticks[(int)(ticks.Count * 0.95)]}, max {ticks[^1]} ticks");
        Assert.True(ticks[ticks.Count / 2] <= 2, $"median {ticks[ticks.Count / 2]} ticks");
        Assert.True(ticks[(int)(ticks.Count * 0.95)] <= 3, $"p95 {ticks[(int)(ticks.Count * 0.95)]} ticks");
    }

    [Fact]
    public void Evaluate_TwentyPointSlowShareRegression_CaughtWithinTwoTicks()
    {
        // 10% → 30% slow (margin 10 pp) on 600 canary requests: ~30 nats on the first tick.
        var ticks = TicksToReject(seed: 3, runs: 500, requests: 6000, baseline: 0.005, increase: 0, slowIncrease: 0.20);
        Assert.True(ticks[(int)(ticks.Count * 0.99)] <= 2, $"p99 {ticks[(int)(ticks.Count * 0.99)]} ticks");
    }

    [Fact]
    public void Evaluate_RegressionBelowTheMargin_NotRolledBack()
    {
        // +0.2 pp with a 0.5 pp margin is inside the null: rejected no more often than the bound allows.
        var ticks = TicksToReject(seed: 4, runs: 500, requests: 6000, baseline: 0.005, increase: 0.002);
        Assert.True(ticks.Count(t => t != int.MaxValue) <= Allowed(500, 0.01), $"{ticks.Count(t => t != int.MaxValue)} rejected");
    }
}

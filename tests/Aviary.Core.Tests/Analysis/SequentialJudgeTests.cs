using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Analysis;
using Aviary.Core.Manifests;

namespace Aviary.Core.Tests.Analysis;

/// <summary>The sequential judge on hand-made ticks: decisions, edge cases, explanations and its persisted state.</summary>
public sealed class SequentialJudgeTests
{
    private static readonly SequentialJudge Judge = new();

    internal static JudgeSettings Settings(double errorMargin = 0.5, double latencyMargin = 10, double alpha = 0.01, int minRequests = 10,
        bool promoteEarly = false, bool errors = true, bool latency = true) =>
        new("sequential", errorMargin, latencyMargin, 500, alpha, promoteEarly, minRequests, errors, latency);

    private static ArmCounts Tick(double primaryRequests, double primaryErrors, double canaryRequests, double canaryErrors,
        double primarySlow = 0, double canarySlow = 0) =>
        new(new ArmSample(primaryRequests, primaryErrors, primarySlow), new ArmSample(canaryRequests, canaryErrors, canarySlow));

    private static JudgeResult Run(JudgeSettings settings, params ArmCounts[] ticks)
    {
        JudgeState? state = null;
        JudgeResult? result = null;
        foreach (var tick in ticks)
        {
            result = Judge.Evaluate(settings, state, tick);
            state = result.State;
        }
        return result!;
    }

    private static void AssertFinite(JudgeResult result)
    {
        foreach (var m in result.Metrics)
        {
            Assert.All(new[] { m.PrimaryRate, m.CanaryRate, m.Lower, m.Upper, m.Evidence, m.RejectAt, m.Margin, m.PrimaryRequests, m.CanaryRequests },
                v => Assert.True(double.IsFinite(v), $"{m.Metric}: {v} in {m}"));
            Assert.True(m.Lower <= m.Upper, $"{m.Lower} > {m.Upper}");
            Assert.InRange(m.Lower, -100, 100);
            Assert.InRange(m.Upper, -100, 100);
            Assert.DoesNotContain("NaN", m.Explanation, StringComparison.Ordinal);
            Assert.DoesNotContain("∞", m.Explanation, StringComparison.Ordinal);
        }
        foreach (var (_, values) in result.State.Metrics ?? new Dictionary<string, IReadOnlyDictionary<string, double>>())
            Assert.All(values, kv => Assert.True(double.IsFinite(kv.Value), $"{kv.Key} = {kv.Value}"));
    }

    [Fact]
    public void Evaluate_ZeroTraffic_InconclusiveAndNaNFree()
    {
        var result = Run(Settings(), Tick(0, 0, 0, 0), Tick(0, 0, 0, 0));

        Assert.Equal(JudgeDecision.Inconclusive, result.Decision);
        Assert.All(result.Metrics, m => Assert.Equal(JudgeDecision.Inconclusive, m.Decision));
        Assert.All(result.Metrics, m => Assert.Equal(1, m.Evidence));
        Assert.All(result.Metrics, m => Assert.Contains("too little data", m.Explanation, StringComparison.Ordinal));
        AssertFinite(result);
    }

    [Fact]
    public void Evaluate_FewerCanaryRequestsThanMinimum_InconclusiveUntilPooledTicksReachIt()
    {
        var settings = Settings(minRequests: 10);

        var first = Judge.Evaluate(settings, null, Tick(54, 0, 6, 0));
        Assert.Equal(JudgeDecision.Inconclusive, first.Decision);
        Assert.Contains("6 canary requests since the last conclusive tick, 10 needed", first.Metrics[0].Explanation, StringComparison.Ordinal);

        var second = Judge.Evaluate(settings, first.State, Tick(54, 0, 6, 0));
        Assert.Equal(JudgeDecision.Continue, second.Decision);

        // The pool starts again after a conclusive tick.
        var third = Judge.Evaluate(settings, second.State, Tick(54, 0, 6, 0));
        Assert.Equal(JudgeDecision.Inconclusive, third.Decision);
    }

    [Fact]
    public void Evaluate_CanaryTrafficButNoPrimaryTraffic_InconclusiveWithReason()
    {
        var result = Run(Settings(), Tick(0, 0, 500, 50));

        Assert.Equal(JudgeDecision.Inconclusive, result.Decision);
        Assert.Contains("the primary answered no requests", result.Metrics[0].Explanation, StringComparison.Ordinal);
        Assert.Equal(1, result.Metrics[0].Evidence);
        AssertFinite(result);
    }

    [Fact]
    public void Evaluate_EveryCanaryRequestFails_RejectsWithTheNumbers()
    {
        var result = Run(Settings(), Tick(9000, 45, 1000, 1000));

        Assert.Equal(JudgeDecision.Reject, result.Decision);
        var errors = result.Metrics.Single(m => m.Metric == SequentialJudge.Errors);
        Assert.Equal(JudgeDecision.Reject, errors.Decision);
        Assert.Equal(100, errors.CanaryRate);
        Assert.Equal(0.5, errors.PrimaryRate, 6);
        Assert.True(errors.Lower > 50, $"lower bound {errors.Lower}");
        Assert.True(errors.Evidence >= errors.RejectAt);
        Assert.Equal(200, errors.RejectAt, 6); // two metrics share falseRollbackRate 0.01
        Assert.StartsWith("error rate: canary 100% (1,000 of 1,000 requests) vs primary 0.5% (45 of 9,000)", errors.Explanation, StringComparison.Ordinal);
        Assert.Contains("worse by more than the 0.5 pp margin", errors.Explanation, StringComparison.Ordinal);
        Assert.Contains("200 needed to roll back", errors.Explanation, StringComparison.Ordinal);
        AssertFinite(result);
    }

    [Fact]
    public void Evaluate_EveryRequestOfBothArmsFails_NeverRejects()
    {
        var ticks = Enumerable.Repeat(Tick(900, 900, 100, 100), 50).ToArray();
        var result = Run(Settings(), ticks);

        Assert.NotEqual(JudgeDecision.Reject, result.Decision);
        AssertFinite(result);
    }

    [Fact]
    public void Evaluate_PrimaryErrorsEqualCanaryErrorsAtEqualTraffic_NeverRejectsAndShowsNonInferiority()
    {
        JudgeState? state = null;
        JudgeResult? result = null;
        for (var i = 0; i < 40; i++)
        {
            result = Judge.Evaluate(Settings(), state, Tick(5000, 50, 5000, 50, 500, 500));
            state = result.State;
            Assert.NotEqual(JudgeDecision.Reject, result.Decision);
            AssertFinite(result);
        }
        Assert.Equal(JudgeDecision.NonInferior, result!.Decision);
        Assert.All(result.Metrics, m => Assert.True(m.Upper < m.Margin, $"{m.Metric}: upper {m.Upper} ≥ margin {m.Margin}"));
        Assert.All(result.Metrics, m => Assert.Contains("not worse, within the", m.Explanation, StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_SameErrorCountsButTheCanaryHasATenthOfTheTraffic_RejectsBecauseItsRateIsTenTimesHigher()
    {
        // Equal counts are not equal rates: 50 errors in 1,000 requests (5%) against 50 in 9,000 (0.56%).
        var result = Run(Settings(), Tick(9000, 50, 1000, 50));

        Assert.Equal(JudgeDecision.Reject, result.Decision);
        var errors = result.Metrics.Single(m => m.Metric == SequentialJudge.Errors);
        Assert.Equal(5, errors.CanaryRate, 6);
        Assert.True(errors.Lower > 0.5);
    }

    [Fact]
    public void Evaluate_CanaryBetterThanPrimary_NeverRejects()
    {
        var ticks = Enumerable.Repeat(Tick(9000, 900, 1000, 0, 900, 0), 30).ToArray();
        var result = Run(Settings(), ticks);
        Assert.Equal(JudgeDecision.NonInferior, result.Decision);
        Assert.All(result.Metrics, m => Assert.True(m.Evidence < 1e-6));
        AssertFinite(result);
    }

    [Fact]
    public void Evaluate_LatencyOnly_JudgesTheShareOfSlowRequestsWithTheWholeFalseRollbackRate()
    {
        var settings = Settings(errors: false, latencyMargin: 5);
        var result = Run(settings, Tick(9000, 0, 1000, 0, primarySlow: 450, canarySlow: 300));

        var latency = Assert.Single(result.Metrics);
        Assert.Equal(SequentialJudge.Latency, latency.Metric);
        Assert.Equal(100, latency.RejectAt, 6);
        Assert.Equal(JudgeDecision.Reject, result.Decision);
        Assert.StartsWith("share of requests slower than 500ms: canary 30% (300 of 1,000 requests) vs primary 5% (450 of 9,000)", latency.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_NothingToJudge_DecidesOnTrafficAlone()
    {
        var settings = Settings(errors: false, latency: false);
        Assert.Equal(JudgeDecision.Inconclusive, Judge.Evaluate(settings, null, Tick(100, 0, 3, 0)).Decision);
        var result = Judge.Evaluate(settings, null, Tick(100, 0, 30, 30));
        Assert.Equal(JudgeDecision.Continue, result.Decision);
        Assert.Empty(result.Metrics);
    }

    [Theory]
    [InlineData(double.NaN, 1, 100, 1)]
    [InlineData(100, double.PositiveInfinity, 100, 1)]
    [InlineData(-5, -1, 100, 1)]
    [InlineData(100, 1, 100, 500)] // more errors than requests
    [InlineData(100, 1, double.NegativeInfinity, double.NaN)]
    public void Evaluate_BrokenCounts_CleanedNeverNaN(double primaryRequests, double primaryErrors, double canaryRequests, double canaryErrors)
    {
        var result = Run(Settings(), Tick(primaryRequests, primaryErrors, canaryRequests, canaryErrors, primaryErrors, canaryErrors),
            Tick(1000, 5, 100, 1, 50, 5));
        AssertFinite(result);
        Assert.All(result.Metrics, m => Assert.InRange(m.CanaryRate, 0, 100));
    }

    [Fact]
    public void Evaluate_SameInputs_SameOutputs()
    {
        var ticks = new[] { Tick(5400, 27, 600, 9, 400, 60), Tick(4800, 20, 1200, 25, 350, 110), Tick(4200, 22, 1800, 30, 300, 160) };
        var a = Run(Settings(), ticks);
        var b = Run(Settings(), ticks);
        Assert.Equal(a.Decision, b.Decision);
        Assert.Equal(a.Metrics, b.Metrics);
        Assert.Equal(a.State.Metrics!.Keys, b.State.Metrics!.Keys);
        foreach (var key in a.State.Metrics.Keys) Assert.Equal(a.State.Metrics[key], b.State.Metrics[key]);
    }

    [Fact]
    public void Evaluate_StatePersistedAsJsonBetweenTicks_ContinuesExactlyAsInMemory()
    {
        var ticks = new[] { Tick(5400, 27, 600, 9, 400, 60), Tick(4800, 20, 1200, 25, 350, 110), Tick(4200, 22, 1800, 30, 300, 160), Tick(4200, 19, 1800, 41, 280, 170) };
        JudgeState? memory = null, persisted = null;
        foreach (var tick in ticks)
        {
            var a = Judge.Evaluate(Settings(), memory, tick);
            var b = Judge.Evaluate(Settings(), persisted, tick);
            Assert.Equal(a.Metrics, b.Metrics);
            memory = a.State;
            var json = JsonSerializer.Serialize(b.State, ModelJson.Options);
            persisted = JsonSerializer.Deserialize<JudgeState>(json, ModelJson.Options);
        }
    }

    [Fact]
    public void Evaluate_EvidenceAndBoundsAgree_RejectExactlyWhenTheLowerBoundPassesTheMargin()
    {
        // Reject ⇔ evidence ≥ 1/α ⇔ lower bound > margin: one test, two views of it.
        var rng = new Random(7);
        for (var run = 0; run < 200; run++)
        {
            JudgeState? state = null;
            var delta = rng.NextDouble() * 0.03;
            for (var t = 0; t < 10; t++)
            {
                var n = 200 + rng.Next(2000);
                var m = 2000 + rng.Next(8000);
                var result = Judge.Evaluate(Settings(errors: true, latency: false), state,
                    Tick(m, Simulation.Binomial(rng, m, 0.01), n, Simulation.Binomial(rng, n, 0.01 + delta)));
                state = result.State;
                var e = result.Metrics[0];
                Assert.Equal(e.Evidence >= e.RejectAt, e.Lower >= e.Margin - 1e-6);
                if (result.Decision == JudgeDecision.Reject) break;
            }
        }
    }
}

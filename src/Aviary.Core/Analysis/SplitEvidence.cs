namespace Aviary.Core.Analysis;

/// <summary>
/// The anytime-valid evidence about one metric (errors, or requests slower than a threshold), accumulated tick by tick:
/// two mixtures of e-processes on the split of the events between the canary and the primary. See README.md in this
/// folder for the derivation.
/// </summary>
/// <remarks>
/// <para>
/// Per tick the canary answers <c>n</c> requests with <c>x</c> events (errors or slow requests) and the primary <c>m</c>
/// with <c>y</c>; <c>s = n / (n + m)</c> is the canary's share of the traffic. For a rate ratio <c>ρ</c> let
/// <c>D = sρ + 1 − s</c>, <c>a = ρ / D</c>, <c>b = 1 / D</c>. Then <c>a^x b^y</c> is the likelihood ratio of "each event
/// lands on the canary with probability <c>sρ / D</c>" against "with probability <c>s</c>" (Netflix's Poisson split),
/// and
/// </para>
/// <code>W(ρ, d) = a^x · b^y · exp(−n·d·(a − 1))</code>
/// <para>
/// has expectation at most 1 whenever the canary's rate exceeds the primary's by at most <c>d</c> (ρ &gt; 1), whatever
/// the primary's rate: <c>E[a^x] ≤ exp(n·p_C·(a − 1))</c> and <c>E[b^y] ≤ exp(−m·p_P·(1 − b))</c> for binomial (or
/// Poisson) counts, and <c>m·(1 − b) = n·(a − 1)</c>, so <c>E[W] ≤ exp(n·(a − 1)·(p_C − p_P − d)) ≤ 1</c>. The baseline
/// rate cancels exactly: no estimate of it is needed. With ρ &lt; 1 the same product with <c>exp(+n·d·(1 − a))</c> is an
/// e-value against "the canary is worse by at least d".
/// </para>
/// <para>
/// A product of such factors over ticks, each with the tick's own counts, is a nonnegative supermartingale under the
/// null; so is a fixed mixture over ρ of such products. Ville's inequality bounds the chance that it ever reaches
/// <c>1/α</c> by <c>α</c>, however many ticks are looked at and whenever the rollout stops. Each component keeps two
/// numbers, <c>S = Σ x·ln ρ − (x + y)·ln D</c> and <c>N = Σ n·|a − 1|</c>, so that the log e-value at any margin
/// <c>d</c> is <c>S − d·N</c> (against "worse") or <c>S + d·N</c> (against "better"): the confidence bounds come from
/// the same numbers.
/// </para>
/// </remarks>
internal sealed class SplitEvidence
{
    /// <summary>Rate ratios canary/primary of the alternatives "the canary is worse", each with prior weight 1/14.</summary>
    public static readonly double[] Worse = [1.2, 1.5, 2, 3, 4.5, 7, 11, 20, 40, 100];

    /// <summary>Rate ratios of the alternatives "the canary is not worse", each with prior weight 1/11.</summary>
    public static readonly double[] Better = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

    private static readonly double LogPriorWorse = -Math.Log(Worse.Length);
    private static readonly double LogPriorBetter = -Math.Log(Better.Length);

    public double[] WorseLog { get; } = new double[Worse.Length];
    public double[] WorseExposure { get; } = new double[Worse.Length];
    public double[] BetterLog { get; } = new double[Better.Length];
    public double[] BetterExposure { get; } = new double[Better.Length];

    /// <summary>Adds one tick: <paramref name="n"/> canary requests with <paramref name="x"/> events, <paramref name="m"/> primary requests with <paramref name="y"/>.</summary>
    /// <remarks>Counts must be finite, nonnegative, and events at most requests (the caller cleans them).</remarks>
    public void Add(double n, double x, double m, double y)
    {
        if (n <= 0 || m <= 0) return; // no comparison possible: every factor is exactly 1
        var s = n / (n + m);
        Accumulate(Worse, WorseLog, WorseExposure, s, n, x, y);
        Accumulate(Better, BetterLog, BetterExposure, s, n, x, y);
    }

    private static void Accumulate(double[] ratios, double[] logs, double[] exposures, double s, double n, double x, double y)
    {
        for (var k = 0; k < ratios.Length; k++)
        {
            var rho = ratios[k];
            var d = s * rho + 1 - s;
            // x·ln ρ − (x+y)·ln D, written so that x = 0 or y = 0 never multiplies an infinity.
            logs[k] += (x > 0 ? x * Math.Log(rho) : 0) - (x + y > 0 ? (x + y) * Math.Log(d) : 0);
            exposures[k] += n * (1 - s) * Math.Abs(rho - 1) / d;
        }
    }

    /// <summary>Log of the mixture e-value against "the canary's rate exceeds the primary's by at most <paramref name="d"/>" (a fraction).</summary>
    public double LogEvidenceWorse(double d) => LogSumExp(WorseLog, WorseExposure, -d, LogPriorWorse);

    /// <summary>Log of the mixture e-value against "the canary's rate exceeds the primary's by at least <paramref name="d"/>".</summary>
    public double LogEvidenceBetter(double d) => LogSumExp(BetterLog, BetterExposure, d, LogPriorBetter);

    /// <summary>
    /// Lower confidence bound of the difference canary − primary (a fraction in [−1, 1]): the largest <c>d</c> whose
    /// "at most d" the evidence rejects at <paramref name="logThreshold"/>; −1 when none is rejected.
    /// </summary>
    public double Lower(double logThreshold) => Solve(WorseLog, WorseExposure, LogPriorWorse, logThreshold);

    /// <summary>Upper confidence bound of the difference: the smallest <c>d</c> whose "at least d" the evidence rejects; 1 when none is.</summary>
    public double Upper(double logThreshold) => -Solve(BetterLog, BetterExposure, LogPriorBetter, logThreshold);

    /// <summary>
    /// The largest <c>u</c> in [−1, 1] with <c>f(u) = log Σ prior·exp(log_k − u·N_k) ≥ threshold</c>; −1 when there is
    /// none. <c>f</c> is convex and decreasing (N ≥ 0): for the lower bound <c>u</c> is the difference <c>d</c>, for
    /// the upper bound it is <c>−d</c>. Newton's method from the left never overshoots the crossing of a convex
    /// decreasing function, so every iterate is a valid, conservative bound; it stops when a step is below 1e-10.
    /// </summary>
    private static double Solve(double[] logs, double[] exposures, double logPrior, double logThreshold)
    {
        var u = -1.0;
        var (f, slope) = Evaluate(logs, exposures, logPrior, u);
        if (f < logThreshold) return -1;
        if (Evaluate(logs, exposures, logPrior, 1).Log >= logThreshold) return 1;
        for (var i = 0; i < 100 && slope < 0; i++)
        {
            var step = (f - logThreshold) / -slope;
            if (step < 1e-10) break;
            u = Math.Min(1, u + step);
            (f, slope) = Evaluate(logs, exposures, logPrior, u);
        }
        return u;
    }

    /// <summary><c>f(u) = log Σ prior·exp(log_k − u·N_k)</c> and its derivative.</summary>
    private static (double Log, double Slope) Evaluate(double[] logs, double[] exposures, double logPrior, double u)
    {
        var max = double.NegativeInfinity;
        for (var k = 0; k < logs.Length; k++) max = Math.Max(max, logs[k] - u * exposures[k]);
        double sum = 0, weighted = 0;
        for (var k = 0; k < logs.Length; k++)
        {
            var w = Math.Exp(logs[k] - u * exposures[k] - max);
            sum += w;
            weighted += w * exposures[k];
        }
        return (max + Math.Log(sum) + logPrior, -weighted / sum);
    }

    private static double LogSumExp(double[] logs, double[] exposures, double slope, double logPrior)
    {
        var max = double.NegativeInfinity;
        for (var k = 0; k < logs.Length; k++) max = Math.Max(max, logs[k] + slope * exposures[k]);
        double sum = 0;
        for (var k = 0; k < logs.Length; k++) sum += Math.Exp(logs[k] + slope * exposures[k] - max);
        return max + Math.Log(sum) + logPrior;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Aviary.Bench.Detection;

// The detection benchmark: Flagger's threshold analysis against the sequential judge, same simulated traffic, real
// scheduler. Usage: DetectionBench [--trials N] [--seed S] [--readme PATH] [--only TEXT] [--error-margin PP]
// [--latency-margin PP] [--latency-threshold MS] [--min-requests N] [--promote-early true|false] [--look-interval 10s|none]
var options = Options.Parse(args);
var inv = CultureInfo.InvariantCulture;

var world = (double rps, bool noise) => new World(rps, BaselineErrorRate: 0.005, MedianLatencyMs: 110, LatencySigma: 0.6, SharedNoise: noise);
var scenarios = new List<Scenario>();
foreach (var rps in new[] { 100.0, 10, 1 })
{
    scenarios.Add(new("healthy", rps, world(rps, false), Regression.None));
    scenarios.Add(new("healthy, shared noise", rps, world(rps, true), Regression.None));
    scenarios.Add(new("+0.5 pp errors", rps, world(rps, false), new(0.005, 0)));
    scenarios.Add(new("+2 pp errors", rps, world(rps, false), new(0.02, 0)));
    scenarios.Add(new("+10 pp errors", rps, world(rps, false), new(0.10, 0)));
    scenarios.Add(new("+50 ms latency", rps, world(rps, false), new(0, 50)));
}
if (options.Only is { } only) scenarios = scenarios.Where(s => s.Label.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();

var common = """
    interval: 1m
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    metrics:
      - name: request-success-rate
        thresholdRange: {min: 99}
        interval: 1m
      - name: request-duration
        thresholdRange: {max: 500}
        interval: 1m
    """;
var judgeYaml = string.Create(inv, $"""
    judge:
      type: sequential
      maxErrorRateIncrease: {options.ErrorMargin}
      maxLatencyIncrease: {options.LatencyMargin}
      latencyThreshold: {options.LatencyThresholdMs}ms
      falseRollbackRate: 0.01
      minRequests: {options.MinRequests}
      promoteEarly: {(options.PromoteEarly ? "true" : "false")}
    {(options.LookInterval is { } look ? $"  lookInterval: {look}" : "")}
    """);
var defaultsYaml = """
    judge:
      type: sequential
    """;
Analysis[] analyses =
[
    new("threshold", Trial.Compile(common)),
    new("judge", Trial.Compile(common + "\n" + judgeYaml)),
    new("judge, defaults", Trial.Compile(common + "\n" + defaultsYaml)),
];

Console.WriteLine($"detection benchmark: {scenarios.Count} scenarios x {options.Trials} trials x {analyses.Length} analyses, seed {options.Seed}, {Environment.ProcessorCount} cores");
var clock = Stopwatch.StartNew();
var rows = new List<Row>();
foreach (var scenario in scenarios)
{
    var results = analyses.Select(_ => new TrialResult[options.Trials]).ToArray();
    await Parallel.ForAsync(0, options.Trials, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (i, _) =>
    {
        // The same seed for every analysis: the same requests with the same fates (common random numbers).
        for (var a = 0; a < analyses.Length; a++)
            results[a][i] = await Trial.RunAsync(analyses[a].Policy, scenario.World, scenario.Regression, options.Seed, (ulong)i);
    });
    rows.Add(new Row(scenario, analyses.Select((a, k) => (a.Name, Summary.Of(results[k]))).ToArray()));
    Console.WriteLine(string.Create(inv, $"  {scenario.Label,-34} done at {clock.Elapsed.TotalSeconds,6:0.0}s"));
}
var elapsed = clock.Elapsed;

var table = Report.Table(rows);
Console.WriteLine();
Console.WriteLine(table);
Console.WriteLine(Report.Goals(rows));
Console.WriteLine(string.Create(inv, $"ran in {elapsed.TotalSeconds:0} s"));

if (options.Readme is { } readme)
{
    var section = Report.Section(rows, options, world(100, false), common, judgeYaml, defaultsYaml, elapsed);
    Report.WriteSection(readme, section);
    Console.WriteLine($"wrote the figures into {readme}");
}

internal sealed record Scenario(string Name, double Rps, World World, Regression Regression)
{
    public string Label => string.Create(CultureInfo.InvariantCulture, $"{Name} @ {Rps} rps");
}

internal sealed record Analysis(string Name, Aviary.Core.Policy.CanaryPolicy Policy);

internal sealed record Row(Scenario Scenario, (string Name, Summary Summary)[] Analyses)
{
    public Summary Threshold => Analyses[0].Summary;

    public Summary Judge => Analyses[1].Summary;
}

internal sealed record Options(int Trials, ulong Seed, string? Readme, string? Only, double ErrorMargin, double LatencyMargin,
    double LatencyThresholdMs, int MinRequests, bool PromoteEarly, string? LookInterval)
{
    public static Options Parse(string[] args)
    {
        var o = new Options(1000, 20261122, null, null, ErrorMargin: 0.1, LatencyMargin: 2, LatencyThresholdMs: 250, MinRequests: 10, PromoteEarly: true, LookInterval: "10s");
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var v = args[i + 1];
            var inv = CultureInfo.InvariantCulture;
            o = args[i] switch
            {
                "--trials" => o with { Trials = int.Parse(v, inv) },
                "--seed" => o with { Seed = ulong.Parse(v, inv) },
                "--readme" => o with { Readme = v },
                "--only" => o with { Only = v },
                "--error-margin" => o with { ErrorMargin = double.Parse(v, inv) },
                "--latency-margin" => o with { LatencyMargin = double.Parse(v, inv) },
                "--latency-threshold" => o with { LatencyThresholdMs = double.Parse(v, inv) },
                "--min-requests" => o with { MinRequests = int.Parse(v, inv) },
                "--promote-early" => o with { PromoteEarly = bool.Parse(v) },
                "--look-interval" => o with { LookInterval = v == "none" ? null : v },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return o;
    }
}

/// <summary>What one analysis did over the trials of one scenario.</summary>
internal sealed record Summary(int Trials, int RolledBack, int Promoted, int Undecided, double[] RollbackMinutes, double[] PromoteMinutes,
    long[] CausedErrors, long[] CanaryRequests)
{
    public static Summary Of(TrialResult[] results) => new(
        results.Length,
        results.Count(r => r.Verdict == Verdict.RolledBack),
        results.Count(r => r.Verdict == Verdict.Promoted),
        results.Count(r => r.Verdict == Verdict.Undecided),
        // Time to roll back over all trials: one that was never rolled back counts as never (+∞).
        results.Select(r => r.Verdict == Verdict.RolledBack ? r.Minutes : double.PositiveInfinity).Order().ToArray(),
        results.Select(r => r.Verdict == Verdict.Promoted ? r.Minutes : double.PositiveInfinity).Order().ToArray(),
        results.Select(r => r.CausedErrors).Order().ToArray(),
        results.Select(r => r.CanaryRequests).Order().ToArray());

    public double RollbackRate => (double)RolledBack / Trials;

    public static T Quantile<T>(T[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    public double MeanCausedErrors => CausedErrors.Average();

    public double MeanCanaryRequests => CanaryRequests.Average();

    public double VarianceOfMeanCausedErrors
    {
        get
        {
            var mean = MeanCausedErrors;
            return CausedErrors.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, CausedErrors.Length - 1) / CausedErrors.Length;
        }
    }
}

internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Table(List<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| scenario | analysis | rolled back | promoted | time to roll back, median / p95 (min) | time to promote, median / p95 (min) | failed requests caused, median / p95 / mean | canary requests, mean |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            foreach (var (name, s) in row.Analyses)
            {
                sb.Append(Inv, $"| {row.Scenario.Label} | {name} | {Pct(s.RolledBack, s.Trials)} | {Pct(s.Promoted, s.Trials)}");
                sb.Append(Inv, $" | {Min(Summary.Quantile(s.RollbackMinutes, 0.5))} / {Min(Summary.Quantile(s.RollbackMinutes, 0.95))}");
                sb.Append(Inv, $" | {Min(Summary.Quantile(s.PromoteMinutes, 0.5))} / {Min(Summary.Quantile(s.PromoteMinutes, 0.95))}");
                sb.Append(Inv, $" | {Summary.Quantile(s.CausedErrors, 0.5)} / {Summary.Quantile(s.CausedErrors, 0.95)} / {s.MeanCausedErrors:0.0}");
                sb.AppendLine(Inv, $" | {s.MeanCanaryRequests:0} |");
            }
        }
        return sb.ToString();
    }

    public static string Goals(List<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("Goals (judge = the tuned configuration):");
        foreach (var row in rows.Where(r => !r.Scenario.Regression.IsBad))
        {
            var t = row.Threshold;
            var j = row.Judge;
            sb.AppendLine(Inv, $"- {row.Scenario.Label}: false rollbacks {Pct(j.RolledBack, j.Trials)} (judge) vs {Pct(t.RolledBack, t.Trials)} (threshold): " +
                $"≤ 1% {(j.RollbackRate <= 0.01 ? "yes" : "NO")}, lower {(j.RolledBack < t.RolledBack ? "yes" : j.RolledBack == t.RolledBack ? "no, equal" : "NO")}");
        }
        foreach (var row in rows.Where(r => r.Scenario.Regression.ErrorIncrease >= 0.10))
        {
            var ratio = row.Threshold.MeanCausedErrors / Math.Max(row.Judge.MeanCausedErrors, 1e-9);
            sb.AppendLine(Inv, $"- {row.Scenario.Label}: failed requests caused {row.Threshold.MeanCausedErrors:0.0} (threshold) / {row.Judge.MeanCausedErrors:0.0} (judge) = " +
                $"{ratio:0.00}x fewer with the judge (± {RatioError(row.Threshold, row.Judge):0.00}); ≥ 5x: {(ratio >= 5 ? "yes" : "NO")}");
        }
        foreach (var row in rows.Where(r => r.Scenario.Regression.ErrorIncrease is > 0.01 and < 0.05))
        {
            var t = Summary.Quantile(row.Threshold.RollbackMinutes, 0.5);
            var j = Summary.Quantile(row.Judge.RollbackMinutes, 0.5);
            sb.AppendLine(Inv, $"- {row.Scenario.Label}: median time to roll back {Min(j)} (judge) vs {Min(t)} (threshold) min, p95 " +
                $"{Min(Summary.Quantile(row.Judge.RollbackMinutes, 0.95))} vs {Min(Summary.Quantile(row.Threshold.RollbackMinutes, 0.95))}; faster: {(j < t ? "yes" : j == t ? "no, equal" : "NO")}");
        }
        sb.AppendLine();
        sb.AppendLine("Never worse than threshold analysis? Measures where the judge is worse beyond Monte-Carlo error (two standard errors):");
        foreach (var row in rows)
        {
            var worse = Worse(row);
            sb.AppendLine(Inv, $"- {row.Scenario.Label}: {(worse.Count == 0 ? "none" : string.Join("; ", worse))}");
        }
        return sb.ToString();
    }

    /// <summary>Where the judge does worse than threshold analysis in one scenario.</summary>
    private static List<string> Worse(Row row)
    {
        var t = row.Threshold;
        var j = row.Judge;
        var worse = new List<string>();
        static double Se(double p, int n) => Math.Sqrt(Math.Max(p * (1 - p), 1.0 / n) / n);
        if (row.Scenario.Regression.IsBad)
        {
            if (t.RollbackRate - j.RollbackRate > 2 * Math.Sqrt(Se(t.RollbackRate, t.Trials) * Se(t.RollbackRate, t.Trials) + Se(j.RollbackRate, j.Trials) * Se(j.RollbackRate, j.Trials)))
                worse.Add(string.Create(Inv, $"rolls back {Pct(j.RolledBack, j.Trials)} vs {Pct(t.RolledBack, t.Trials)}"));
            foreach (var q in new[] { 0.5, 0.95 })
            {
                var jq = Summary.Quantile(j.RollbackMinutes, q);
                var tq = Summary.Quantile(t.RollbackMinutes, q);
                if (jq > tq) worse.Add(string.Create(Inv, $"{(q == 0.5 ? "median" : "p95")} time to roll back {Min(jq)} vs {Min(tq)} min"));
            }
            if (row.Scenario.Regression.ErrorIncrease > 0 && j.MeanCausedErrors - t.MeanCausedErrors > 2 * Math.Sqrt(j.VarianceOfMeanCausedErrors + t.VarianceOfMeanCausedErrors))
                worse.Add(string.Create(Inv, $"failed requests {j.MeanCausedErrors:0.0} vs {t.MeanCausedErrors:0.0} (mean)"));
        }
        else
        {
            if (j.RollbackRate - t.RollbackRate > 2 * Math.Sqrt(Se(t.RollbackRate, t.Trials) * Se(t.RollbackRate, t.Trials) + Se(j.RollbackRate, j.Trials) * Se(j.RollbackRate, j.Trials)))
                worse.Add(string.Create(Inv, $"false rollbacks {Pct(j.RolledBack, j.Trials)} vs {Pct(t.RolledBack, t.Trials)}"));
            foreach (var q in new[] { 0.5, 0.95 })
            {
                var jq = Summary.Quantile(j.PromoteMinutes, q);
                var tq = Summary.Quantile(t.PromoteMinutes, q);
                if (jq > tq) worse.Add(string.Create(Inv, $"{(q == 0.5 ? "median" : "p95")} time to promote {Min(jq)} vs {Min(tq)} min"));
            }
        }
        return worse;
    }

    /// <summary>Two standard errors of the ratio of mean failed requests (delta method, unpaired: conservative).</summary>
    private static double RatioError(Summary t, Summary j)
    {
        var r = t.MeanCausedErrors / j.MeanCausedErrors;
        return 2 * r * Math.Sqrt(t.VarianceOfMeanCausedErrors / (t.MeanCausedErrors * t.MeanCausedErrors) + j.VarianceOfMeanCausedErrors / (j.MeanCausedErrors * j.MeanCausedErrors));
    }

    public static string Section(List<Row> rows, Options o, World world, string common, string judge, string defaults, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("<!-- detection-bench:start -->");
        sb.AppendLine(Inv, $"### Detection benchmark — threshold analysis vs the sequential judge");
        sb.AppendLine();
        sb.AppendLine(Inv, $"{o.Trials} trials per scenario and analysis, seed {o.Seed}; both analyses of a trial see the same requests " +
            $"(common random numbers). Ran in {elapsed.TotalSeconds:0} s on {Environment.ProcessorCount} cores.");
        sb.AppendLine();
        sb.AppendLine(Inv, $"World: Poisson arrivals at the given rate; baseline error rate {world.BaselineErrorRate * 100:0.##}% " +
            $"(success rate {100 - world.BaselineErrorRate * 100:0.##}%, Flagger's minimum is 99%); log-normal latency with median " +
            $"{world.MedianLatencyMs:0} ms and σ {world.LatencySigma} (p99 {world.P99Ms:0} ms, Flagger's maximum is 500 ms; " +
            $"{world.SlowerThan(o.LatencyThresholdMs) * 100:0.#}% of requests slower than {o.LatencyThresholdMs:0} ms). " +
            $"\"Shared noise\": each minute both versions' error rate is multiplied by a log-normal factor (σ {World.NoiseSigma}) and " +
            $"with chance {World.IncidentChance:0.##} the minute is an incident for both (+{World.IncidentErrors * 100:0} pp errors, " +
            $"+{World.IncidentLatencyMs:0} ms). The +50 ms regression adds 50 ms to every canary request (canary p99 {world.P99Ms + 50:0} ms; " +
            $"{world.SlowerThan(o.LatencyThresholdMs - 50) * 100:0.#}% slower than {o.LatencyThresholdMs:0} ms).");
        sb.AppendLine();
        sb.AppendLine("Analysis, as in the seeds (`threshold`); `judge` adds the first `judge:` block, `judge, defaults` the second " +
            "(every judge setting at its default: margins 0.5 pp and 10 pp, slow = over request-duration's max of 500 ms):");
        sb.AppendLine();
        sb.AppendLine("```yaml");
        sb.AppendLine(common.TrimEnd());
        sb.AppendLine(judge.TrimEnd());
        sb.AppendLine("# or, for \"judge, defaults\":");
        sb.AppendLine(defaults.TrimEnd());
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("Times are minutes of canary traffic before the decision (\"∞\" when fewer than that share of trials got there). " +
            "*Failed requests caused* are the requests that failed only because the canary answered them (the same request " +
            "would have succeeded on the primary), until the decision; for a promoted bad release the damage continues after it.");
        sb.AppendLine();
        sb.Append(Table(rows));
        sb.AppendLine();
        sb.Append(Goals(rows));
        sb.AppendLine();
        sb.AppendLine("Reproduce: `bench/detection/run.sh` (`TRIALS`, `SEED` override the defaults; extra arguments go to the program).");
        sb.AppendLine("<!-- detection-bench:end -->");
        return sb.ToString();
    }

    public static void WriteSection(string path, string section)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        const string start = "<!-- detection-bench:start -->", end = "<!-- detection-bench:end -->";
        var i = text.IndexOf(start, StringComparison.Ordinal);
        var j = text.IndexOf(end, StringComparison.Ordinal);
        text = i >= 0 && j > i
            ? text[..i] + section.TrimEnd('\n') + text[(j + end.Length)..]
            : text.TrimEnd('\n') + "\n\n" + section;
        File.WriteAllText(path, text);
    }

    private static string Pct(int count, int total) => string.Create(Inv, $"{100.0 * count / total:0.0}%");

    private static string Min(double minutes) => double.IsPositiveInfinity(minutes) ? "∞" : minutes.ToString("0", Inv);
}

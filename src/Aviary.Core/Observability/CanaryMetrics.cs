using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;

namespace Aviary.Core.Observability;

/// <summary>
/// Aviary's own metrics under Flagger's names and labels, so that existing alerts (the seeds'
/// <c>flagger_canary_status &gt; 1</c>) and dashboards keep working. Fed with every tick's outcome; written in the
/// Prometheus text format. <c>flagger_canary_duration_seconds</c> observes the real duration of a rollout, from
/// "New revision detected" to its end (Flagger observes the duration of one tick). Extras use the <c>aviary_</c> prefix.
/// </summary>
public sealed class CanaryMetrics(string version, string meshProvider, TimeProvider time)
{
    /// <summary>Prometheus' default histogram buckets extended to rollouts, in seconds.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

    private readonly object _gate = new();
    private readonly Dictionary<string, CanaryState> _canaries = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Name, string Namespace, string Strategy, string Status), long> _successes = [];
    private readonly Dictionary<(string Name, string Namespace, string Strategy, string Status), long> _failures = [];
    private readonly Dictionary<(string Name, string Namespace), (long[] Counts, double Sum)> _durations = [];
    private readonly Dictionary<string, long> _ticks = new(StringComparer.Ordinal);

    /// <summary>
    /// How many outcomes of <paramref name="canaryId"/> (<c>name.namespace</c>) were recorded: its ticks, and the judge's
    /// looks that decided something. The controller's heartbeat, and how a test shows "N more ticks, nothing changed".
    /// </summary>
    public long Ticks(string canaryId)
    {
        lock (_gate) return _ticks.GetValueOrDefault(canaryId);
    }

    /// <summary>Records one tick; <paramref name="rolloutStarted"/> recovers the start of a rollout begun before a restart.</summary>
    public void Record(CanaryPolicy policy, TickOutcome outcome, DateTimeOffset? rolloutStarted = null)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            _ticks[policy.Id] = _ticks.GetValueOrDefault(policy.Id) + 1;
            if (!_canaries.TryGetValue(policy.Id, out var state)) _canaries[policy.Id] = state = new CanaryState { Started = rolloutStarted };
            var before = state.Phase;
            var phase = outcome.Status.Phase ?? "";
            state.Policy = policy;
            state.Phase = phase;
            state.FailedChecks = outcome.Status.FailedChecks;
            if (outcome.Routes is { } routes) state.Weights = (routes.Primary, routes.Canary);
            else if (phase is CanaryPhase.Initialized or CanaryPhase.Succeeded or CanaryPhase.Failed) state.Weights = (100, 0);
            foreach (var check in outcome.Checks.Where(c => c.Kind == "metric" && c.Value is not null))
            {
                // Flagger records request-duration in seconds.
                var value = check.Name == MetricCheck.RequestDuration && policy.Metrics.Any(m => m.Name == check.Name && m.IsBuiltin)
                    ? check.Value!.Value / 1000
                    : check.Value!.Value;
                state.Analysis[check.Name] = value;
            }
            if (outcome.Events.Any(e => e.Message.StartsWith("New revision detected!", StringComparison.Ordinal)))
            {
                state.Started = outcome.Events.First(e => e.Message.StartsWith("New revision detected!", StringComparison.Ordinal)).Time;
                state.Judge.Clear(); // the last analysis' evidence is about another revision
            }
            foreach (var check in outcome.Checks.Where(c => c.Kind == "judge" && c.Details is not null))
                state.Judge[check.Name] = check.Details!;

            var finished = phase is CanaryPhase.Succeeded or CanaryPhase.Failed;
            if (finished && before != phase && (CanaryPhase.IsActive(before) || before == CanaryPhase.Initializing))
            {
                var skipped = outcome.Events.Any(e => e.Message.StartsWith("Promotion completed! Canary analysis was skipped", StringComparison.Ordinal));
                var key = (policy.TargetName, policy.Namespace, Strategy(policy), skipped ? "skipped" : "completed");
                var counters = phase == CanaryPhase.Succeeded ? _successes : _failures;
                counters[key] = counters.GetValueOrDefault(key) + 1;
                if (state.Started is { } started)
                {
                    var ended = outcome.Status.LastTransitionTime ?? now;
                    var seconds = Math.Max(0, (ended - started).TotalSeconds);
                    var dkey = (policy.TargetName, policy.Namespace);
                    if (!_durations.TryGetValue(dkey, out var h)) h = (new long[DurationBuckets.Count + 1], 0);
                    var bucket = DurationBuckets.TakeWhile(b => seconds > b).Count();
                    h.Counts[bucket]++;
                    _durations[dkey] = (h.Counts, h.Sum + seconds);
                    state.Started = null;
                }
            }
        }
    }

    /// <summary>Forgets a deleted canary's gauges (counters stay, as Prometheus counters must).</summary>
    public void Remove(string canaryId)
    {
        lock (_gate) _canaries.Remove(canaryId);
    }

    public void Write(PrometheusWriter w)
    {
        lock (_gate)
        {
            var canaries = _canaries.Values.Where(c => c.Policy is not null).OrderBy(c => c.Policy!.Namespace, StringComparer.Ordinal)
                .ThenBy(c => c.Policy!.Name, StringComparer.Ordinal).ToList();

            w.Family("flagger_info", "gauge", "Flagger version and mesh provider information")
                .Sample("flagger_info", 1, ("version", version), ("mesh_provider", meshProvider));

            w.Family("flagger_canary_total", "gauge", "Total number of canary object");
            foreach (var g in canaries.GroupBy(c => c.Policy!.Namespace).OrderBy(g => g.Key, StringComparer.Ordinal))
                w.Sample("flagger_canary_total", g.Count(), ("namespace", g.Key));

            w.Family("flagger_canary_status", "gauge", "Last canary analysis result");
            foreach (var c in canaries)
                w.Sample("flagger_canary_status", Status(c.Phase), ("name", c.Policy!.TargetName), ("namespace", c.Policy.Namespace));

            w.Family("flagger_canary_weight", "gauge", "The virtual service destination weight current value");
            foreach (var c in canaries)
            {
                w.Sample("flagger_canary_weight", c.Weights.Primary, ("workload", c.Policy!.PrimaryName), ("namespace", c.Policy.Namespace));
                w.Sample("flagger_canary_weight", c.Weights.Canary, ("workload", c.Policy.TargetName), ("namespace", c.Policy.Namespace));
            }

            w.Family("flagger_canary_metric_analysis", "gauge", "Last canary analysis result per metric");
            foreach (var c in canaries)
                foreach (var (metric, value) in c.Analysis.OrderBy(a => a.Key, StringComparer.Ordinal))
                    w.Sample("flagger_canary_metric_analysis", value, ("name", c.Policy!.TargetName), ("namespace", c.Policy.Namespace), ("metric", metric));

            Counter(w, "flagger_canary_successes_total", "Total number of canary successes", _successes);
            Counter(w, "flagger_canary_failures_total", "Total number of canary failures", _failures);

            w.Family("flagger_canary_duration_seconds", "histogram", "Seconds a rollout took, from a new revision to its promotion or rollback.");
            foreach (var ((name, ns), h) in _durations.OrderBy(d => d.Key.Namespace, StringComparer.Ordinal).ThenBy(d => d.Key.Name, StringComparer.Ordinal))
                w.Histogram("flagger_canary_duration_seconds", DurationBuckets, h.Counts, h.Sum, ("name", name), ("namespace", ns));

            w.Family("aviary_canary_failed_checks", "gauge", "Failed checks of the current analysis.");
            foreach (var c in canaries)
                w.Sample("aviary_canary_failed_checks", c.FailedChecks, ("name", c.Policy!.TargetName), ("namespace", c.Policy.Namespace));

            w.Family("aviary_canary_phase", "gauge", "1 for the phase each canary is in.");
            foreach (var c in canaries)
                w.Sample("aviary_canary_phase", 1, ("name", c.Policy!.TargetName), ("namespace", c.Policy.Namespace), ("phase", c.Phase.Length == 0 ? "Initializing" : c.Phase));

            WriteJudge(w, canaries);
        }
    }

    /// <summary>The statistical judge's last numbers per canary and metric, from the <c>judge</c> checks' details.</summary>
    private static void WriteJudge(PrometheusWriter w, List<CanaryState> canaries)
    {
        var judged = canaries.Where(c => c.Judge.Count > 0).ToList();
        if (judged.Count == 0) return; // no judge anywhere: no empty families
        (string, string)[] Labels(CanaryState c, string metric, params (string, string)[] extra) =>
            [("name", c.Policy!.TargetName), ("namespace", c.Policy.Namespace), ("metric", metric), .. extra];
        void Gauge(string name, string help, string key, params (string Label, string Value)[] extra)
        {
            w.Family(name, "gauge", help);
            foreach (var c in judged)
                foreach (var (metric, details) in c.Judge.OrderBy(j => j.Key, StringComparer.Ordinal))
                    if (details.TryGetValue(key, out var value)) w.Sample(name, value, Labels(c, metric, extra));
        }
        void PerArm(string name, string help, string primaryKey, string canaryKey)
        {
            w.Family(name, "gauge", help);
            foreach (var c in judged)
                foreach (var (metric, details) in c.Judge.OrderBy(j => j.Key, StringComparer.Ordinal))
                {
                    if (details.TryGetValue(primaryKey, out var p)) w.Sample(name, p, Labels(c, metric, ("arm", "primary")));
                    if (details.TryGetValue(canaryKey, out var q)) w.Sample(name, q, Labels(c, metric, ("arm", "canary")));
                }
        }

        Gauge("aviary_judge_evidence", "Evidence (an e-value) against \"the canary is not worse than the primary beyond the margin\"; the judge rolls back at aviary_judge_reject_at.", "evidence");
        Gauge("aviary_judge_reject_at", "Evidence at which the judge rolls back: 1 / the metric's share of falseRollbackRate.", "rejectAt");
        PerArm("aviary_judge_rate_percent", "Rate of errors (request-success-rate) or of requests slower than the latency threshold (request-duration) per arm over the analysis, percent.", "primaryRate", "canaryRate");
        PerArm("aviary_judge_requests", "Requests per arm the judge has weighed in the current analysis.", "primaryRequests", "canaryRequests");
        w.Family("aviary_judge_difference_bound_pp", "gauge", "Anytime-valid confidence bounds of canary minus primary rate, percentage points.");
        foreach (var c in judged)
            foreach (var (metric, details) in c.Judge.OrderBy(j => j.Key, StringComparer.Ordinal))
            {
                if (details.TryGetValue("lower", out var lower)) w.Sample("aviary_judge_difference_bound_pp", lower, Labels(c, metric, ("bound", "lower")));
                if (details.TryGetValue("upper", out var upper)) w.Sample("aviary_judge_difference_bound_pp", upper, Labels(c, metric, ("bound", "upper")));
            }
        Gauge("aviary_judge_margin_pp", "Non-inferiority margin of the metric, percentage points.", "margin");
    }

    private static void Counter(PrometheusWriter w, string name, string help,
        Dictionary<(string Name, string Namespace, string Strategy, string Status), long> values)
    {
        w.Family(name, "counter", help);
        foreach (var (k, v) in values.OrderBy(x => x.Key.Namespace, StringComparer.Ordinal).ThenBy(x => x.Key.Name, StringComparer.Ordinal))
            w.Sample(name, v, ("name", k.Name), ("namespace", k.Namespace), ("deployment_strategy", k.Strategy), ("analysis_status", k.Status));
    }

    /// <summary>Flagger's encoding: 0 while progressing, 2 failed, 1 otherwise.</summary>
    public static int Status(string phase) => phase switch
    {
        CanaryPhase.Progressing => 0,
        CanaryPhase.Failed => 2,
        _ => 1,
    };

    private static string Strategy(CanaryPolicy policy) => policy.Strategy switch
    {
        DeploymentStrategy.ABTesting => "ab-testing",
        DeploymentStrategy.BlueGreen => "blue-green",
        _ => "canary",
    };

    private sealed class CanaryState
    {
        public CanaryPolicy? Policy { get; set; }
        public string Phase { get; set; } = "";
        public int FailedChecks { get; set; }
        public (int Primary, int Canary) Weights { get; set; } = (100, 0);
        public Dictionary<string, double> Analysis { get; } = new(StringComparer.Ordinal);
        public DateTimeOffset? Started { get; set; }

        /// <summary>Per metric, the details of the judge's last check.</summary>
        public Dictionary<string, IReadOnlyDictionary<string, double>> Judge { get; } = new(StringComparer.Ordinal);
    }
}

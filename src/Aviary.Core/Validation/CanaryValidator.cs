using System.Globalization;
using System.Text.RegularExpressions;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Validation;

/// <summary>
/// The semantic rules of a Canary beyond its schema, and the defaults Flagger documents. Produces the
/// <see cref="CanaryPolicy"/> the scheduler runs, or errors naming each field path and rule.
/// </summary>
public static partial class CanaryValidator
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan RecommendedMinimumInterval = TimeSpan.FromSeconds(10);
    public const int DefaultProgressDeadlineSeconds = 600;
    public const string DefaultMetricInterval = "1m";
    public static readonly TimeSpan DefaultWebhookTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Validates <paramref name="canary"/>; returns its policy when there is no error.</summary>
    public static CanaryPolicy? Validate(Canary canary, DiagnosticBag bag)
    {
        var errorsBefore = bag.Items.Count(d => d.IsError);
        Metadata.Validate(canary.Metadata, bag);
        var spec = canary.Spec;

        if (spec.TargetRef.Name.Length > 0 && !Metadata.IsDns1123Subdomain(spec.TargetRef.Name))
            bag.Error("spec.targetRef.name", $"must be a lowercase RFC 1123 name (got '{spec.TargetRef.Name}')");

        int? servicePort = null;
        if (spec.Service is { } service)
        {
            if (service.Port is { } port)
            {
                if (port != Math.Floor(port) || port < 1 || port > 65535)
                    bag.Error("spec.service.port", $"must be an integer between 1 and 65535 (got {Format(port)})");
                else servicePort = (int)port;
            }
            ValidateStringMatches(service, bag);
        }

        if (Providers.Retired(spec.Provider) is { } retired) bag.Error("spec.provider", $"'{spec.Provider}': {retired}");

        var progressDeadline = TimeSpan.FromSeconds(DefaultProgressDeadlineSeconds);
        if (spec.ProgressDeadlineSeconds is { } pds)
        {
            // Flagger reads it into an int32.
            if (pds < 1 || pds > int.MaxValue || pds != Math.Floor(pds))
                bag.Error("spec.progressDeadlineSeconds", $"must be a whole number of seconds between 1 and {int.MaxValue} (got {Format(pds)})");
            else progressDeadline = TimeSpan.FromSeconds(pds);
        }

        var analysis = spec.Analysis ?? new CanaryAnalysis();
        var a = ValidateAnalysis(analysis, spec.Analysis is null, bag);

        if (bag.Items.Count(d => d.IsError) > errorsBefore) return null;

        var policy = new CanaryPolicy
        {
            Manifest = canary,
            Name = canary.Metadata.Name,
            Namespace = canary.Metadata.EffectiveNamespace,
            TargetName = spec.TargetRef.Name,
            TargetKind = spec.TargetRef.Kind,
            Provider = spec.Provider ?? "",
            ServiceName = string.IsNullOrEmpty(spec.Service?.Name) ? spec.TargetRef.Name : spec.Service.Name,
            ServicePort = servicePort,
            Interval = a.Interval,
            Threshold = a.Threshold,
            MaxWeight = analysis.MaxWeight ?? 100,
            StepWeight = analysis.StepWeight ?? 0,
            StepWeights = CappedSteps(analysis.StepWeights ?? []),
            StepWeightPromotion = analysis.StepWeightPromotion ?? 0,
            Iterations = analysis.Iterations ?? 0,
            Mirror = analysis.Mirror ?? false,
            MirrorWeight = analysis.MirrorWeight ?? 0,
            Match = analysis.Match ?? [],
            ProgressDeadline = progressDeadline,
            PrimaryReadyThreshold = analysis.PrimaryReadyThreshold ?? 100,
            CanaryReadyThreshold = analysis.CanaryReadyThreshold ?? 100,
            Metrics = a.Metrics,
            Webhooks = a.Webhooks,
            Alerts = a.Alerts,
            SessionAffinity = analysis.SessionAffinity,
            SkipAnalysis = spec.SkipAnalysis ?? false,
            Suspend = spec.Suspend ?? false,
            RevertOnDeletion = spec.RevertOnDeletion ?? false,
            Judge = a.Judge,
        };
        // What the named provider's router cannot do is refused here; an unnamed one is checked by the runtime that names it.
        var refused = RouterCapabilities.Check(policy);
        bag.AddRange(refused);
        return refused.Any(d => d.IsError) ? null : policy;
    }

    private sealed record ResolvedAnalysis(
        TimeSpan Interval, int Threshold, IReadOnlyList<MetricCheck> Metrics, IReadOnlyList<WebhookCheck> Webhooks,
        IReadOnlyList<AlertRoute> Alerts, Analysis.JudgeSettings? Judge);

    private static ResolvedAnalysis ValidateAnalysis(CanaryAnalysis a, bool missing, DiagnosticBag bag)
    {
        const string p = "spec.analysis";
        var interval = DefaultInterval;
        if (a.Interval is null)
        {
            if (!missing) bag.Warning($"{p}.interval", "not set, using 60s (Flagger's CRD requires it)");
        }
        else if (!GoDuration.TryParse(a.Interval, out var parsed))
            bag.Error($"{p}.interval", $"'{a.Interval}' is not a duration such as 30s or 1m");
        else if (parsed < MinimumInterval)
            bag.Error($"{p}.interval", $"must be at least 1s (got {a.Interval})");
        else
        {
            interval = parsed;
            if (parsed < RecommendedMinimumInterval)
                bag.Warning($"{p}.interval", $"{a.Interval} is shorter than 10s: fine for local runs and tests, Flagger would use 10s");
            WarnUnlessFlaggerDuration(bag, $"{p}.interval", a.Interval);
        }

        var threshold = a.Threshold ?? 0;
        if (a.Threshold is null && !missing) bag.Warning($"{p}.threshold", "not set, using 1 (Flagger's CRD requires it)");
        if (threshold <= 0) threshold = 1;

        var modes = new[] { ("stepWeight", a.StepWeight is not null), ("stepWeights", a.StepWeights is not null), ("iterations", a.Iterations is not null) }
            .Where(m => m.Item2).Select(m => m.Item1).ToList();
        if (!missing && modes.Count == 0)
            bag.Error(p, "needs one of stepWeight, stepWeights or iterations");
        else if (modes.Count > 1)
            bag.Error(p, $"{string.Join(" and ", modes)} are mutually exclusive: set exactly one of stepWeight, stepWeights or iterations");

        Percent(bag, $"{p}.stepWeight", a.StepWeight, 1);
        Percent(bag, $"{p}.maxWeight", a.MaxWeight, 1);
        Percent(bag, $"{p}.stepWeightPromotion", a.StepWeightPromotion, 1);
        Percent(bag, $"{p}.mirrorWeight", a.MirrorWeight, 0);
        Percent(bag, $"{p}.primaryReadyThreshold", a.PrimaryReadyThreshold, 0);
        Percent(bag, $"{p}.canaryReadyThreshold", a.CanaryReadyThreshold, 0);
        if (a.Iterations is < 1) bag.Error($"{p}.iterations", $"must be at least 1 (got {a.Iterations})");
        if (a.StepWeight is { } sw && a.MaxWeight is { } mw && sw > mw && sw <= 100)
            bag.Warning($"{p}.stepWeight", $"{sw} is larger than maxWeight {mw}: the canary goes straight to {mw}%");
        if (a.StepWeights is { } steps)
        {
            if (steps.Count == 0) bag.Error($"{p}.stepWeights", "must not be empty");
            for (var i = 0; i < steps.Count; i++)
            {
                if (steps[i] > 100)
                    bag.Warning($"{p}.stepWeights[{i}]", $"{steps[i]} is above 100: capped at 100, as Flagger caps a step at the maximum weight");
                else
                    Percent(bag, $"{p}.stepWeights[{i}]", steps[i], 1);
                if (i > 0 && steps[i] <= steps[i - 1])
                    bag.Error($"{p}.stepWeights[{i}]", $"must be larger than the step before it ({steps[i - 1]}), got {steps[i]}");
            }
            if (a.MaxWeight is { } max && steps.Count > 0 && max != steps[^1])
                bag.Warning($"{p}.maxWeight", $"ignored with stepWeights: the last step ({steps[^1]}) is the maximum");
        }
        if (a.MirrorWeight is not null && a.Mirror is not true)
            bag.Warning($"{p}.mirrorWeight", "has no effect unless mirror is true");
        for (var i = 0; i < (a.Match?.Count ?? 0); i++)
        {
            var m = a.Match![i];
            foreach (var (name, header) in m.Headers ?? new Dictionary<string, HeaderMatch>())
            {
                var path = FieldPath.Property($"{p}.match[{i}].headers", name);
                var set = new[] { header.Exact, header.Prefix, header.Suffix, header.Regex }.Count(v => v is not null);
                if (set != 1) bag.Error(path, $"must set exactly one of exact, prefix, suffix or regex (got {set})");
                CheckRegex(bag, $"{path}.regex", header.Regex);
            }
            foreach (var (name, query) in m.QueryParams ?? new Dictionary<string, StringMatch>())
            {
                var path = FieldPath.Property($"{p}.match[{i}].queryParams", name);
                CheckStringMatch(bag, path, query);
            }
        }

        if (a.SessionAffinity is { } sa)
        {
            if (sa.MaxAge is { } maxAge && (maxAge < 0 || maxAge != Math.Floor(maxAge)))
                bag.Error($"{p}.sessionAffinity.maxAge", $"must be a whole number of seconds, 0 or more (got {Format(maxAge)})");
            // One cookie pins a client to the canary, the other to the primary: one name cannot say both.
            if (sa.PrimaryCookieName is { Length: > 0 } primaryCookie && primaryCookie == sa.CookieName)
                bag.Error($"{p}.sessionAffinity.primaryCookieName", $"must differ from cookieName (both are '{primaryCookie}')");
        }

        var metrics = Metrics(a, bag);
        return new ResolvedAnalysis(interval, threshold, metrics, Webhooks(a, bag), Alerts(a), Judge(a.Judge, metrics, interval, bag));
    }

    private static Analysis.JudgeSettings? Judge(JudgeSpec? j, List<MetricCheck> metrics, TimeSpan interval, DiagnosticBag bag)
    {
        if (j is null) return null;
        const string p = "spec.analysis.judge";
        var errorMargin = j.MaxErrorRateIncrease ?? 0.5;
        if (errorMargin is <= 0 or >= 100 || !double.IsFinite(errorMargin))
            bag.Error($"{p}.maxErrorRateIncrease", $"must be a number of percentage points between 0 and 100 (got {Format(errorMargin)})");
        var latencyMargin = 10.0;
        if (j.MaxLatencyIncrease is { } m)
        {
            var text = m.IsInt ? m.IntValue!.Value.ToString(CultureInfo.InvariantCulture) : m.StringValue!.TrimEnd('%');
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out latencyMargin) || latencyMargin is <= 0 or >= 100)
                bag.Error($"{p}.maxLatencyIncrease", $"must be percentage points between 0 and 100, such as 10 or 10% (got '{m}')");
        }
        var duration = metrics.FirstOrDefault(x => x.IsBuiltin && x.Name == MetricCheck.RequestDuration);
        var thresholdMs = duration?.Max ?? 500;
        if (j.LatencyThreshold is { } lt)
        {
            if (GoDuration.TryParse(lt, out var span) && span > TimeSpan.Zero) thresholdMs = span.TotalMilliseconds;
            else bag.Error($"{p}.latencyThreshold", $"'{lt}' is not a duration such as 500ms or 1s");
        }
        var alpha = j.FalseRollbackRate ?? 0.01;
        if (alpha is <= 0 or > 0.5 || !double.IsFinite(alpha))
            bag.Error($"{p}.falseRollbackRate", $"must be a probability above 0 and at most 0.5 (got {Format(alpha)})");
        if (j.MinRequests is < 1) bag.Error($"{p}.minRequests", $"must be at least 1 (got {j.MinRequests})");
        TimeSpan? look = null;
        if (j.LookInterval is { } li)
        {
            if (!GoDuration.TryParse(li, out var span) || span <= TimeSpan.Zero)
                bag.Error($"{p}.lookInterval", $"'{li}' is not a duration such as 10s or 500ms");
            else if (span >= interval)
                bag.Error($"{p}.lookInterval", $"must be shorter than spec.analysis.interval ({GoDuration.Format(interval)}), got {li}");
            else look = span;
        }
        var judgeErrors = metrics.Any(x => x.IsBuiltin && x.Name == MetricCheck.RequestSuccessRate);
        var judgeLatency = duration is not null;
        if (!judgeErrors && !judgeLatency)
            bag.Warning(p, "has nothing to judge: add request-success-rate or request-duration to the metrics");
        if (Analysis.Judges.For(j.Type) is null)
            bag.Error($"{p}.type", $"'{j.Type}' is not a judge Aviary has (one of {string.Join(", ", Analysis.Judges.Types)})");
        return new Analysis.JudgeSettings(j.Type, errorMargin, latencyMargin, thresholdMs, alpha, j.PromoteEarly ?? false, j.MinRequests ?? 10,
            judgeErrors, judgeLatency, look);
    }

    private static List<MetricCheck> Metrics(CanaryAnalysis a, DiagnosticBag bag)
    {
        var result = new List<MetricCheck>();
        var metrics = a.Metrics ?? [];
        for (var i = 0; i < metrics.Count; i++)
        {
            var m = metrics[i];
            var path = $"spec.analysis.metrics[{i}]";
            var builtin = m.Name is MetricCheck.RequestSuccessRate or MetricCheck.RequestDuration;
            var query = string.IsNullOrWhiteSpace(m.Query) ? null : m.Query;
            if (!builtin && m.TemplateRef is null && query is null && m.Name.Length > 0)
            {
                var suggestion = Suggestions.Closest(m.Name, [MetricCheck.RequestSuccessRate, MetricCheck.RequestDuration]);
                bag.Error(path, $"'{m.Name}' is not a built-in metric and has neither templateRef nor query" +
                    (suggestion is null ? "" : $"; did you mean {suggestion}?"));
            }
            if (m.TemplateRef is not null && query is not null)
                bag.Warning(path, "has both templateRef and query: the template's query is used");

            var intervalText = m.Interval ?? DefaultMetricInterval;
            var window = TimeSpan.FromMinutes(1);
            if (m.Interval is not null && !GoDuration.TryParse(m.Interval, out window))
            {
                // Flagger's CRD admits any interval that starts like one (^[0-9]+(m|s)) and hands it to the template as
                // written: Graphite's summarize wants 1min, as Flagger's own Graphite example writes it.
                if (FlaggerDurationPattern().Match(m.Interval) is { Success: true } start
                    && long.TryParse(start.Value[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count <= int.MaxValue)
                {
                    window = start.Value[^1] == 'm' ? TimeSpan.FromMinutes(count) : TimeSpan.FromSeconds(count);
                    if (window <= TimeSpan.Zero) bag.Error($"{path}.interval", $"must be longer than 0s (got {m.Interval})");
                    else bag.Warning($"{path}.interval", $"'{m.Interval}' is not a duration: as in Flagger, its template gets it as written " +
                        $"({{{{ interval }}}}), and the check's window is {GoDuration.Format(window)}");
                }
                else
                {
                    bag.Error($"{path}.interval", $"'{m.Interval}' is not a duration such as 30s or 1m");
                }
            }
            else if (m.Interval is not null && window <= TimeSpan.Zero)
                bag.Error($"{path}.interval", $"must be longer than 0s (got {m.Interval})");
            else if (m.Interval is not null) WarnUnlessFlaggerDuration(bag, $"{path}.interval", m.Interval);

            var min = m.ThresholdRange?.Min;
            var max = m.ThresholdRange?.Max;
            if (m.Threshold is { } legacy)
            {
                if (m.ThresholdRange is not null)
                    bag.Warning($"{path}.threshold", "deprecated and ignored: thresholdRange is set");
                else if (m.Name == MetricCheck.RequestSuccessRate && m.TemplateRef is null && query is null)
                {
                    min = legacy;
                    bag.Warning($"{path}.threshold", $"deprecated, read as thresholdRange.min: {Format(legacy)}");
                }
                else
                {
                    max = legacy;
                    var unit = m.Name == MetricCheck.RequestDuration && m.TemplateRef is null && query is null ? " (ms)" : "";
                    bag.Warning($"{path}.threshold", $"deprecated, read as thresholdRange.max: {Format(legacy)}{unit}");
                }
            }
            if (min is { } lo && max is { } hi && lo > hi)
                bag.Error($"{path}.thresholdRange", $"min ({Format(lo)}) must not be larger than max ({Format(hi)})");
            if (min is null && max is null)
                bag.Warning(path, "has no threshold or thresholdRange: the check only fails when there is no data");
            if (m.Name == MetricCheck.RequestSuccessRate && (min is < 0 or > 100 || max is < 0 or > 100) && m.TemplateRef is null && query is null)
                bag.Error($"{path}.thresholdRange", "a success rate is a percentage between 0 and 100");

            result.Add(new MetricCheck
            {
                Name = m.Name,
                IntervalText = intervalText,
                Interval = window,
                Min = min,
                Max = max,
                Query = m.TemplateRef is null ? query : null,
                TemplateRef = m.TemplateRef,
                Variables = m.TemplateVariables ?? new Dictionary<string, string>(),
                OnNoData = m.OnNoData switch { "skip" => NoDataPolicy.Skip, "pass" => NoDataPolicy.Pass, _ => NoDataPolicy.Fail },
            });
        }
        return result;
    }

    private static List<WebhookCheck> Webhooks(CanaryAnalysis a, DiagnosticBag bag)
    {
        var result = new List<WebhookCheck>();
        var hooks = a.Webhooks ?? [];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < hooks.Count; i++)
        {
            var w = hooks[i];
            var path = $"spec.analysis.webhooks[{i}]";
            if (w.Name.Length > 0 && !seen.Add(w.Name))
                bag.Warning($"{path}.name", $"'{w.Name}' is used by another webhook: results and events will be hard to tell apart");
            Uri? url = null;
            if (w.Url.Length > 0 && (!Uri.TryCreate(w.Url, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
                bag.Error($"{path}.url", $"must be an absolute http or https URL (got '{w.Url}')");
            var timeout = DefaultWebhookTimeout;
            if (w.Timeout is not null && !GoDuration.TryParse(w.Timeout, out timeout))
                bag.Error($"{path}.timeout", $"'{w.Timeout}' is not a duration such as 30s or 1m");
            else if (w.Timeout is not null && timeout <= TimeSpan.Zero)
                bag.Error($"{path}.timeout", $"must be longer than 0s (got {w.Timeout})");
            else if (w.Timeout is not null) WarnUnlessFlaggerDuration(bag, $"{path}.timeout", w.Timeout);
            if (w.Retries is < 0) bag.Error($"{path}.retries", $"must be 0 or more (got {w.Retries})");
            result.Add(new WebhookCheck
            {
                Name = w.Name,
                Type = w.Type switch
                {
                    "pre-rollout" => WebhookType.PreRollout,
                    "confirm-rollout" => WebhookType.ConfirmRollout,
                    "confirm-traffic-increase" => WebhookType.ConfirmTrafficIncrease,
                    "confirm-promotion" => WebhookType.ConfirmPromotion,
                    "post-rollout" => WebhookType.PostRollout,
                    "rollback" => WebhookType.Rollback,
                    "event" => WebhookType.Event,
                    _ => WebhookType.Rollout,
                },
                Url = url ?? new Uri("http://invalid/"),
                Timeout = timeout,
                Retries = w.Retries ?? 0,
                MuteAlert = w.MuteAlert ?? false,
                DisableTls = w.DisableTLS ?? false,
                Metadata = w.Metadata ?? new Dictionary<string, string>(),
            });
        }
        return result;
    }

    private static List<AlertRoute> Alerts(CanaryAnalysis a)
    {
        var result = new List<AlertRoute>();
        foreach (var alert in a.Alerts ?? [])
        {
            var severity = alert.Severity switch { "warn" => AlertSeverity.Warn, "error" => AlertSeverity.Error, _ => AlertSeverity.Info };
            if (alert.ProviderRef is { } provider) result.Add(new AlertRoute(alert.Name, severity, provider));
        }
        return result;
    }

    private static void ValidateStringMatches(CanaryService service, DiagnosticBag bag)
    {
        var matches = service.Match ?? [];
        for (var i = 0; i < matches.Count; i++)
        {
            var m = matches[i];
            var path = $"spec.service.match[{i}]";
            CheckStringMatch(bag, $"{path}.uri", m.Uri);
            CheckStringMatch(bag, $"{path}.scheme", m.Scheme);
            CheckStringMatch(bag, $"{path}.method", m.Method);
            CheckStringMatch(bag, $"{path}.authority", m.Authority);
            foreach (var (k, v) in m.Headers ?? new Dictionary<string, StringMatch>()) CheckStringMatch(bag, FieldPath.Property($"{path}.headers", k), v);
            foreach (var (k, v) in m.QueryParams ?? new Dictionary<string, StringMatch>()) CheckStringMatch(bag, FieldPath.Property($"{path}.queryParams", k), v);
            foreach (var (k, v) in m.WithoutHeaders ?? new Dictionary<string, StringMatch>()) CheckStringMatch(bag, FieldPath.Property($"{path}.withoutHeaders", k), v);
        }
        var origins = service.CorsPolicy?.AllowOrigins ?? [];
        for (var i = 0; i < origins.Count; i++)
        {
            var o = origins[i];
            var set = new[] { o.Exact, o.Prefix, o.Regex }.Count(v => v is not null);
            if (set != 1) bag.Error($"spec.service.corsPolicy.allowOrigins[{i}]", $"must set exactly one of exact, prefix or regex (got {set})");
        }
    }

    private static void CheckStringMatch(DiagnosticBag bag, string path, StringMatch? match)
    {
        if (match is null) return;
        var set = new[] { match.Exact, match.Prefix, match.Regex }.Count(v => v is not null);
        if (set > 1) bag.Error(path, $"must set at most one of exact, prefix or regex (got {set})");
        CheckRegex(bag, $"{path}.regex", match.Regex);
    }

    private static void CheckRegex(DiagnosticBag bag, string path, string? pattern)
    {
        if (pattern is null) return;
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException e)
        {
            bag.Error(path, $"is not a valid regular expression: {e.Message}");
        }
    }

    /// <summary>
    /// Flagger's CRD accepts these durations only when they match <c>^[0-9]+(m|s)</c>: Aviary reads any Go duration,
    /// but says when the same manifest would be rejected by a Kubernetes API server with Flagger's CRD.
    /// </summary>
    private static void WarnUnlessFlaggerDuration(DiagnosticBag bag, string path, string text)
    {
        if (!FlaggerDurationPattern().IsMatch(text))
            bag.Warning(path, $"'{text}' would be rejected by Flagger's CRD, which wants whole seconds or minutes such as 90s or 5m");
    }

    [GeneratedRegex("^[0-9]+(m|s)")]
    private static partial Regex FlaggerDurationPattern();

    /// <summary>
    /// The steps a rollout takes: each capped at 100 (Flagger caps the weight at the maximum and goes on), and none after
    /// the first that reaches 100.
    /// </summary>
    private static IReadOnlyList<int> CappedSteps(IReadOnlyList<int> steps)
    {
        var capped = new List<int>(steps.Count);
        foreach (var step in steps)
        {
            capped.Add(Math.Min(step, 100));
            if (step >= 100) break;
        }
        return capped;
    }

    private static void Percent(DiagnosticBag bag, string path, int? value, int min)
    {
        if (value is { } v && (v < min || v > 100)) bag.Error(path, $"must be between {min} and 100 (got {v})");
    }

    private static string Format(double d) => d.ToString("G15", CultureInfo.InvariantCulture);
}

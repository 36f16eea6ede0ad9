using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Core.Tests.Manifests;
using static Aviary.Core.Tests.Manifests.TestManifests;

namespace Aviary.Core.Tests.Validation;

public sealed class CanaryValidatorTests
{
    private static List<string> ErrorsOf(string analysis, string specExtra = "") => ReadOne(Canary(analysis, specExtra)).Errors();

    [Fact]
    public void Validate_StepWeightAbove100_IsRangeError()
    {
        Assert.Equal(["spec.analysis.stepWeight: must be between 1 and 100 (got 150)"], ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 150"));
    }

    [Fact]
    public void Validate_NoStepWeightStepWeightsOrIterations_IsError()
    {
        Assert.Equal(["spec.analysis: needs one of stepWeight, stepWeights or iterations"], ErrorsOf("interval: 1m\nthreshold: 1\nmaxWeight: 50"));
    }

    [Fact]
    public void Validate_UnknownMetricWithoutQuery_IsError()
    {
        var errors = ErrorsOf("""
            interval: 1m
            threshold: 1
            stepWeight: 10
            metrics:
            - name: request-success-rate
              thresholdRange: {min: 99}
            - name: error-rate
              thresholdRange: {max: 1}
            """);
        var error = Assert.Single(errors);
        Assert.StartsWith("spec.analysis.metrics[1]: 'error-rate' is not a built-in metric and has neither templateRef nor query", error, StringComparison.Ordinal);
        // 'error-rate' is nowhere near request-success-rate or request-duration: no suggestion.
        Assert.Equal("spec.analysis.metrics[1]: 'error-rate' is not a built-in metric and has neither templateRef nor query", error);
    }

    [Fact]
    public void Validate_MisspelledBuiltinMetric_SuggestsTheBuiltin()
    {
        var errors = ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-sucess-rate\n  thresholdRange: {min: 99}");
        Assert.Equal(["spec.analysis.metrics[0]: 'request-sucess-rate' is not a built-in metric and has neither templateRef nor query; did you mean request-success-rate?"], errors);
    }

    [Theory]
    [InlineData("templateRef: {name: error-rate}")]
    [InlineData("query: sum(rate(errors[1m]))")]
    public void Validate_CustomMetricWithTemplateOrQuery_IsValid(string source)
    {
        Assert.Empty(ErrorsOf($"interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: error-rate\n  {source}\n  thresholdRange: {{max: 1}}"));
    }

    [Fact]
    public void Validate_IntervalNotADuration_IsError()
    {
        Assert.Equal(["spec.analysis.interval: '10x' is not a duration such as 30s or 1m"], ErrorsOf("interval: 10x\nthreshold: 1\nstepWeight: 10"));
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1.5m")]
    [InlineData("+90s")]
    public void Validate_DurationFlaggerCrdRejects_IsAcceptedWithWarning(string interval)
    {
        var doc = ReadOne(Canary($"interval: {interval}\nthreshold: 1\nstepWeight: 10\nwebhooks:\n- name: a\n  url: http://a/\n  timeout: {interval}"));
        Assert.Empty(doc.Errors());
        Assert.Contains($"spec.analysis.interval: '{interval}' would be rejected by Flagger's CRD, which wants whole seconds or minutes such as 90s or 5m", doc.Warnings());
        Assert.Contains($"spec.analysis.webhooks[0].timeout: '{interval}' would be rejected by Flagger's CRD, which wants whole seconds or minutes such as 90s or 5m", doc.Warnings());
    }

    /// <summary>
    /// Flagger's CRD admits a metric interval that only starts like a duration, and its template gets it as written:
    /// Flagger's Graphite example uses 1min for Graphite's summarize.
    /// </summary>
    [Theory]
    [InlineData("1min", 60)]
    [InlineData("30sec", 30)]
    [InlineData("5minutes", 300)]
    public void Validate_MetricIntervalFlaggerAdmitsButNotADuration_AsWrittenWithItsLeadingWindow(string interval, int seconds)
    {
        var doc = ReadOne(Canary($"interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: graphite\n  templateRef: {{name: graphite}}\n  thresholdRange: {{min: 99}}\n  interval: {interval}"));

        Assert.Empty(doc.Errors());
        Assert.Contains($"spec.analysis.metrics[0].interval: '{interval}' is not a duration: as in Flagger, its template gets it as written ({{{{ interval }}}}), " +
            $"and the check's window is {Aviary.Core.Primitives.GoDuration.Format(TimeSpan.FromSeconds(seconds))}", doc.Warnings());
        var metric = Assert.Single(((CanaryPolicy)doc.Compiled!).Metrics);
        Assert.Equal((interval, TimeSpan.FromSeconds(seconds)), (metric.IntervalText, metric.Interval));
    }

    [Fact]
    public void Validate_MetricIntervalZeroMinutes_IsError() =>
        Assert.Equal(["spec.analysis.metrics[0].interval: must be longer than 0s (got 0min)"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: graphite\n  templateRef: {name: graphite}\n  thresholdRange: {min: 99}\n  interval: 0min"));

    [Theory]
    [InlineData("0s")]
    [InlineData("-1m")]
    public void Validate_MetricIntervalNotPositive_IsError(string interval)
    {
        Assert.Equal([$"spec.analysis.metrics[0].interval: must be longer than 0s (got {interval})"],
            ErrorsOf($"interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  interval: {interval}\n  thresholdRange: {{min: 99}}"));
    }

    [Theory]
    [InlineData("1m", "spec.analysis.judge.lookInterval: must be shorter than spec.analysis.interval (1m0s), got 1m")]
    [InlineData("2m", "spec.analysis.judge.lookInterval: must be shorter than spec.analysis.interval (1m0s), got 2m")]
    [InlineData("0s", "spec.analysis.judge.lookInterval: '0s' is not a duration such as 10s or 500ms")]
    [InlineData("often", "spec.analysis.judge.lookInterval: 'often' is not a duration such as 10s or 500ms")]
    public void Validate_JudgeLookIntervalNotShorterThanTheInterval_IsError(string look, string expected)
    {
        Assert.Equal([expected], ErrorsOf($"interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  thresholdRange: {{min: 99}}\njudge:\n  type: sequential\n  lookInterval: {look}"));
    }

    [Fact]
    public void Validate_JudgeLookInterval_IsCompiled()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  thresholdRange: {min: 99}\njudge:\n  type: sequential\n  lookInterval: 10s"));
        Assert.Empty(doc.Errors());
        Assert.Equal(TimeSpan.FromSeconds(10), ((CanaryPolicy)doc.Compiled!).Judge!.LookInterval);
    }

    [Fact]
    public void Validate_ManyProblems_ReportsAllOfThemAtOnce()
    {
        var errors = ErrorsOf("""
            interval: 10x
            threshold: 1
            stepWeight: 150
            maxWeight: 0
            metrics:
            - name: request-success-rate
              interval: soon
              thresholdRange: {min: 99}
            - name: error-rate
            webhooks:
            - name: gate
              type: confirm-rolout
              url: ftp://example.com
              timeout: forever
              retries: -1
            alerts:
            - name: slack
              severity: critical
            """, specExtra: "progressDeadlineSeconds: 0.5");
        Assert.Equal(
        [
            "spec.analysis.webhooks[0].type: must be one of confirm-rollout, pre-rollout, rollout, confirm-promotion, post-rollout, event, rollback, confirm-traffic-increase (got 'confirm-rolout'); did you mean confirm-rollout?",
            "spec.analysis.alerts[0].severity: must be one of info, warn, error (got 'critical')",
            "spec.analysis.alerts[0].providerRef: required field is missing",
            "spec.progressDeadlineSeconds: must be a whole number of seconds between 1 and 2147483647 (got 0.5)",
            "spec.analysis.interval: '10x' is not a duration such as 30s or 1m",
            "spec.analysis.stepWeight: must be between 1 and 100 (got 150)",
            "spec.analysis.maxWeight: must be between 1 and 100 (got 0)",
            "spec.analysis.metrics[0].interval: 'soon' is not a duration such as 30s or 1m",
            "spec.analysis.metrics[1]: 'error-rate' is not a built-in metric and has neither templateRef nor query",
            "spec.analysis.webhooks[0].url: must be an absolute http or https URL (got 'ftp://example.com')",
            "spec.analysis.webhooks[0].timeout: 'forever' is not a duration such as 30s or 1m",
            "spec.analysis.webhooks[0].retries: must be 0 or more (got -1)",
        ], errors);
    }

    [Fact]
    public void Validate_StepWeightAndIterations_AreMutuallyExclusive()
    {
        Assert.Equal(["spec.analysis: stepWeight and iterations are mutually exclusive: set exactly one of stepWeight, stepWeights or iterations"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\niterations: 5"));
    }

    [Fact]
    public void Validate_StepWeights_MustIncrease()
    {
        Assert.Equal(
            ["spec.analysis.stepWeights[0]: must be between 1 and 100 (got 0)", "spec.analysis.stepWeights[2]: must be larger than the step before it (20), got 15"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeights: [0, 20, 15]"));
    }

    [Fact]
    public void Validate_StepWeightsAbove100_AreCappedWithAWarning()
    {
        // Flagger caps a step at the maximum weight and goes on; it does not refuse the Canary.
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeights: [20, 60, 120, 150]"));
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        Assert.Equal([20, 60, 100], policy.StepWeights);
        Assert.Equal(100, policy.EffectiveMaxWeight);
        Assert.Equal(
            ["spec.analysis.stepWeights[2]: 120 is above 100: capped at 100, as Flagger caps a step at the maximum weight",
             "spec.analysis.stepWeights[3]: 150 is above 100: capped at 100, as Flagger caps a step at the maximum weight"],
            doc.Diagnostics.Where(d => !d.IsError && d.Path.StartsWith("spec.analysis.stepWeights", StringComparison.Ordinal)).Select(d => d.ToString()));
        Assert.Equal(100, WeightPlan.NextWeight(policy, 60));
    }

    [Fact]
    public void Validate_SessionAffinityWithOneCookieNameForBoth_IsRefusedAtPrimaryCookieName()
    {
        Assert.Equal(
            ["spec.analysis.sessionAffinity.primaryCookieName: must differ from cookieName (both are 'flagger-cookie')"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nsessionAffinity: {cookieName: flagger-cookie, primaryCookieName: flagger-cookie}"));
        Assert.Empty(ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nsessionAffinity: {cookieName: canary-cookie, primaryCookieName: primary-cookie}"));
    }

    [Fact]
    public void Validate_EmptyStepWeights_IsError()
    {
        Assert.Equal(["spec.analysis.stepWeights: must not be empty"], ErrorsOf("interval: 1m\nthreshold: 1\nstepWeights: []"));
    }

    [Fact]
    public void Validate_BlueGreenWithIterations_CompilesBlueGreenPolicy()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 2\niterations: 10"));
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        Assert.Equal(DeploymentStrategy.BlueGreen, policy.Strategy);
        Assert.Equal(10, policy.Iterations);
    }

    [Fact]
    public void Validate_AbTestingMatch_ChecksExactlyOneMatcherAndRegex()
    {
        var errors = ErrorsOf("""
            interval: 1m
            threshold: 1
            iterations: 10
            match:
            - headers:
                x-canary: {exact: insider, prefix: in}
                cookie: {regex: "^(.*?;)?(canary=always)(;.*)?$"}
                x-bad: {regex: "(unclosed"}
            """);
        Assert.Equal(2, errors.Count);
        Assert.Equal("spec.analysis.match[0].headers.x-canary: must set exactly one of exact, prefix, suffix or regex (got 2)", errors[0]);
        Assert.StartsWith("spec.analysis.match[0].headers.x-bad.regex: is not a valid regular expression: ", errors[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1e300")]
    [InlineData("2147483648")]
    [InlineData("-1")]
    public void Validate_ProgressDeadlineOutOfRange_IsErrorNotCrash(string value)
    {
        var errors = ErrorsOf(DefaultAnalysis, $"progressDeadlineSeconds: {value}");
        Assert.StartsWith("spec.progressDeadlineSeconds: must be a whole number of seconds between 1 and 2147483647", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ProgressDeadline_IsUsed()
    {
        var doc = ReadOne(Canary(specExtra: "progressDeadlineSeconds: 120"));
        Assert.Equal(TimeSpan.FromMinutes(2), Assert.IsType<CanaryPolicy>(doc.Compiled).ProgressDeadline);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("80.5")]
    public void Validate_ServicePortOutOfRange_IsError(string port)
    {
        var yaml = Canary().Replace("port: 9898", $"port: {port}", StringComparison.Ordinal);
        Assert.StartsWith("spec.service.port: must be an integer between 1 and 65535", Assert.Single(ReadOne(yaml).Errors()), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SuccessRateOutsidePercent_IsError()
    {
        Assert.Equal(["spec.analysis.metrics[0].thresholdRange: a success rate is a percentage between 0 and 100"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  thresholdRange: {min: 101}"));
    }

    [Fact]
    public void Validate_ThresholdRangeMinAboveMax_IsError()
    {
        Assert.Equal(["spec.analysis.metrics[0].thresholdRange: min (5) must not be larger than max (1)"],
            ErrorsOf("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-duration\n  thresholdRange: {min: 5, max: 1}"));
    }

    [Fact]
    public void Validate_MetadataNames_MustBeRfc1123()
    {
        var errors = ReadOne(Canary(name: "PodInfo").Replace("namespace: test", "namespace: Test_NS", StringComparison.Ordinal)).Errors();
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("metadata.name: must be a lowercase RFC 1123 name", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("metadata.namespace: must be a lowercase RFC 1123 label", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WebhooksAndAlerts_AreResolved()
    {
        var doc = ReadOne(Canary("""
            interval: 1m
            threshold: 1
            stepWeight: 10
            webhooks:
            - name: gate
              type: confirm-promotion
              url: http://gate/approve
              timeout: 1m30s
              retries: 2
              muteAlert: true
              metadata: {k: v}
            alerts:
            - name: on-call
              severity: error
              providerRef: {name: on-call, namespace: ops}
            """));
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        var hook = Assert.Single(policy.Webhooks);
        Assert.Equal((WebhookType.ConfirmPromotion, TimeSpan.FromSeconds(90), 2, true), (hook.Type, hook.Timeout, hook.Retries, hook.MuteAlert));
        Assert.Equal(new Uri("http://gate/approve"), hook.Url);
        var alert = Assert.Single(policy.Alerts);
        Assert.Equal((AlertSeverity.Error, "ops"), (alert.Severity, alert.ProviderRef.Namespace));
    }
}

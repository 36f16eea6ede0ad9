using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using static Aviary.Core.Tests.Manifests.TestManifests;

namespace Aviary.Core.Tests.Manifests;

public sealed class ManifestReaderTests
{
    [Fact]
    public void Read_MultiDocumentFile_ReadsEveryKindAndSkipsOthers()
    {
        var yaml = $"""
            {Canary()}
            ---
            {MetricTemplateYaml}
            ---
            {AlertProviderYaml}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: podinfo
            ---
            """;
        var file = ManifestReader.Read(yaml, "all.yaml");

        Assert.True(file.IsValid, file.Documents.SelectMany(d => d.Diagnostics).Describe());
        Assert.Equal(["Canary/podinfo", "MetricTemplate/error-rate", "AlertProvider/on-call", "Deployment/podinfo"], file.Documents.Select(d => d.Label));
        Assert.IsType<CanaryPolicy>(file.Documents[0].Compiled);
        Assert.IsType<MetricTemplate>(file.Documents[1].Compiled);
        Assert.IsType<AlertProvider>(file.Documents[2].Compiled);
        Assert.True(file.Documents[3].Skipped);
        Assert.Equal("apps/v1 Deployment is not an Aviary document; skipped", Assert.Single(file.Documents[3].Warnings()));
        Assert.Single(file.Compiled<CanaryPolicy>());
    }

    [Fact]
    public void Read_MetricTemplate_BindsEveryField()
    {
        var doc = ReadOne("""
            apiVersion: flagger.app/v1beta1
            kind: MetricTemplate
            metadata: {name: latency, namespace: test}
            spec:
              provider:
                type: datadog
                address: https://api.datadoghq.com
                headers: {X-Scope-OrgID: [tenant-a, tenant-b]}
                secretRef: {name: datadog}
                region: eu-west-1
                insecureSkipVerify: true
              query: avg:latency{*}
            """);
        Assert.Empty(doc.Diagnostics);
        var template = Assert.IsType<MetricTemplate>(doc.Compiled);
        Assert.Equal("datadog", template.Spec.Provider.Type);
        Assert.Equal(["tenant-a", "tenant-b"], template.Spec.Provider.Headers!["X-Scope-OrgID"]);
        Assert.Equal("datadog", template.Spec.Provider.SecretRef!.Name);
        Assert.Equal("eu-west-1", template.Spec.Provider.Region);
        Assert.True(template.Spec.Provider.InsecureSkipVerify);
        Assert.Equal("avg:latency{*}", template.Spec.Query);
    }

    [Fact]
    public void Read_AlertProvider_BindsEveryField()
    {
        var doc = ReadOne("""
            apiVersion: flagger.app/v1beta1
            kind: AlertProvider
            metadata: {name: team}
            spec:
              type: msteams
              channel: general
              username: aviary
              secretRef: {name: teams-url}
              proxy: http://proxy.local:3128
            """);
        Assert.Empty(doc.Diagnostics);
        var provider = Assert.IsType<AlertProvider>(doc.Compiled);
        Assert.Equal(("msteams", "general", "aviary", "teams-url", "http://proxy.local:3128"),
            (provider.Spec.Type, provider.Spec.Channel, provider.Spec.Username, provider.Spec.SecretRef!.Name, provider.Spec.Proxy));
    }

    [Theory]
    [InlineData("address: https://hooks.slack.com/x\n  secretRef: {name: s}", "spec: set exactly one of address or secretRef (both are set)")]
    [InlineData("channel: x", "spec: set exactly one of address or secretRef (neither is set)")]
    [InlineData("address: not a url", "spec.address: must be an absolute http or https URL (got 'not a url')")]
    public void Read_AlertProviderBreakingOneOf_IsError(string fields, string expected)
    {
        var doc = ReadOne($"apiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {{name: a}}\nspec:\n  type: slack\n  {fields}\n");
        Assert.Contains(expected, doc.Errors());
    }

    [Fact]
    public void Read_CanaryWithDefaults_AppliesFlaggerDefaults()
    {
        var doc = ReadOne(Canary("""
            threshold: 0
            stepWeight: 10
            metrics:
            - name: request-duration
              thresholdRange: {max: 500}
            webhooks:
            - name: load
              url: http://loadtester/
            """));

        Assert.Empty(doc.Errors());
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        Assert.Equal(TimeSpan.FromSeconds(60), policy.Interval);
        Assert.Equal(1, policy.Threshold);
        Assert.Equal(100, policy.MaxWeight);
        Assert.Equal(TimeSpan.FromSeconds(600), policy.ProgressDeadline);
        Assert.Equal("1m", policy.Metrics[0].IntervalText);
        Assert.Equal(TimeSpan.FromMinutes(1), policy.Metrics[0].Interval);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.Webhooks[0].Timeout);
        Assert.Equal(WebhookType.Rollout, policy.Webhooks[0].Type);
        Assert.Contains("spec.analysis.interval: not set, using 60s (Flagger's CRD requires it)", doc.Warnings());
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(0)]
    public void Read_ThresholdZeroOrLess_MeansOne(int threshold)
    {
        var doc = ReadOne(Canary($"interval: 1m\nthreshold: {threshold}\nstepWeight: 10"));
        Assert.Equal(1, Assert.IsType<CanaryPolicy>(doc.Compiled).Threshold);
    }

    [Fact]
    public void Read_ThresholdNotSet_WarnsAndMeansOne()
    {
        var doc = ReadOne(Canary("interval: 1m\nstepWeight: 10"));
        Assert.Equal(1, Assert.IsType<CanaryPolicy>(doc.Compiled).Threshold);
        Assert.Contains("spec.analysis.threshold: not set, using 1 (Flagger's CRD requires it)", doc.Warnings());
    }

    [Theory]
    [InlineData("1s", 1)]
    [InlineData("9s", 9)]
    public void Read_IntervalBelowTenSeconds_IsAllowedWithWarning(string interval, int seconds)
    {
        var doc = ReadOne(Canary($"interval: {interval}\nthreshold: 1\nstepWeight: 10"));
        Assert.Equal(TimeSpan.FromSeconds(seconds), Assert.IsType<CanaryPolicy>(doc.Compiled).Interval);
        Assert.Contains($"spec.analysis.interval: {interval} is shorter than 10s: fine for local runs and tests, Flagger would use 10s", doc.Warnings());
    }

    [Fact]
    public void Read_IntervalOfTenSeconds_HasNoWarning()
    {
        var doc = ReadOne(Canary("interval: 10s\nthreshold: 1\nstepWeight: 10"));
        Assert.Empty(doc.Diagnostics);
    }

    [Theory]
    [InlineData("500ms")]
    [InlineData("0s")]
    [InlineData("-1m")]
    public void Read_IntervalBelowOneSecond_IsError(string interval)
    {
        var doc = ReadOne(Canary($"interval: {interval}\nthreshold: 1\nstepWeight: 10"));
        Assert.Equal($"spec.analysis.interval: must be at least 1s (got {interval})", Assert.Single(doc.Errors()));
        Assert.Null(doc.Compiled);
    }

    [Fact]
    public void Read_DeprecatedCanaryAnalysis_IsReadAsAnalysisWithWarning()
    {
        var yaml = Canary().Replace("  analysis:", "  canaryAnalysis:", StringComparison.Ordinal);
        var doc = ReadOne(yaml);
        Assert.Empty(doc.Errors());
        Assert.Contains("spec.canaryAnalysis: deprecated, read as spec.analysis", doc.Warnings());
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Interval);
        Assert.Equal(10, policy.StepWeight);
    }

    [Fact]
    public void Read_CanaryAnalysisBesideAnalysis_IsIgnoredWithWarning()
    {
        var doc = ReadOne(Canary(specExtra: "canaryAnalysis:\n  interval: 5m\n  stepWeight: 50"));
        Assert.Contains("spec.canaryAnalysis: deprecated and ignored: spec.analysis is set", doc.Warnings());
        Assert.Equal(TimeSpan.FromSeconds(30), Assert.IsType<CanaryPolicy>(doc.Compiled).Interval);
    }

    [Theory]
    [InlineData("request-success-rate", 99.0, null, "deprecated, read as thresholdRange.min: 99")]
    [InlineData("request-duration", null, 500.0, "deprecated, read as thresholdRange.max: 500 (ms)")]
    public void Read_BuiltinMetricThreshold_IsReadAsThresholdRange(string metric, double? min, double? max, string warning)
    {
        var threshold = min ?? max;
        var doc = ReadOne(Canary($"interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: {metric}\n  threshold: {threshold}"));
        var check = Assert.Single(Assert.IsType<CanaryPolicy>(doc.Compiled).Metrics);
        Assert.Equal(min, check.Min);
        Assert.Equal(max, check.Max);
        Assert.Contains($"spec.analysis.metrics[0].threshold: {warning}", doc.Warnings());
    }

    [Fact]
    public void Read_CustomMetricThreshold_IsReadAsMaximum()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: error-rate\n  templateRef: {name: error-rate}\n  threshold: 5"));
        var check = Assert.Single(Assert.IsType<CanaryPolicy>(doc.Compiled).Metrics);
        Assert.Null(check.Min);
        Assert.Equal(5, check.Max);
        Assert.Contains("spec.analysis.metrics[0].threshold: deprecated, read as thresholdRange.max: 5", doc.Warnings());
    }

    [Fact]
    public void Read_ThresholdBesideThresholdRange_IsIgnoredWithWarning()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-success-rate\n  threshold: 50\n  thresholdRange: {min: 99}"));
        Assert.Equal(99, Assert.Single(Assert.IsType<CanaryPolicy>(doc.Compiled).Metrics).Min);
        Assert.Contains("spec.analysis.metrics[0].threshold: deprecated and ignored: thresholdRange is set", doc.Warnings());
    }

    [Theory]
    [InlineData("[a, b]", "a list")]
    [InlineData("hello", "string 'hello'")]
    [InlineData("42", "42")]
    [InlineData("true", "true")]
    public void Read_DocumentThatIsNotAMapping_IsError(string yaml, string got)
    {
        var doc = ReadOne(yaml);
        Assert.Equal($"a manifest must be a mapping with apiVersion and kind (got {got})", Assert.Single(doc.Errors()));
        Assert.Equal("document/#1", doc.Label);
    }

    [Fact]
    public void Read_NullDocuments_AreIgnored()
    {
        var file = ManifestReader.Read("---\n~\n---\n# only a comment\n---\n");
        Assert.Null(file.SyntaxError);
        Assert.Empty(file.Documents);
    }

    [Fact]
    public void Read_MissingApiVersionAndKind_ReportsBoth()
    {
        var doc = ReadOne("metadata:\n  name: x\nspec: {}\n");
        Assert.Equal(["apiVersion: required field is missing", "kind: required field is missing"], doc.Errors());
        Assert.Equal("document/x", doc.Label);
    }

    [Theory]
    [InlineData("apiVersion: 1\nkind: Canary", "apiVersion: must be a string (got 1)")]
    [InlineData("apiVersion: flagger.app/v1beta1\nkind: [Canary]", "kind: must be a string (got a list)")]
    [InlineData("apiVersion: ''\nkind: Canary", "apiVersion: must not be empty")]
    [InlineData("apiVersion: flagger.app/v1beta1\nkind: ~", "kind: required field is missing")]
    public void Read_ApiVersionOrKindOfWrongType_IsError(string header, string expected)
    {
        var doc = ReadOne(header + "\nmetadata: {name: x}\n");
        Assert.Equal(expected, Assert.Single(doc.Errors()));
    }

    [Theory]
    [InlineData("Canery", "'Canery' is not a kind Aviary reads (one of Canary, MetricTemplate, AlertProvider); did you mean Canary?")]
    [InlineData("Deployment", "'Deployment' is not a kind Aviary reads (one of Canary, MetricTemplate, AlertProvider)")]
    public void Read_UnsupportedKindOfFlaggerGroup_IsError(string kind, string message)
    {
        var doc = ReadOne($"apiVersion: flagger.app/v1beta1\nkind: {kind}\nmetadata: {{name: x}}\n");
        Assert.Equal($"kind: {message}", Assert.Single(doc.Errors()));
    }

    [Theory]
    [InlineData("flagger.app/v1alpha3", "v1alpha3")]
    [InlineData("flagger.app/v1alpha1", "v1alpha1")]
    public void Read_V1AlphaVersion_IsErrorNamingTheVersion(string apiVersion, string version)
    {
        var doc = ReadOne($"apiVersion: {apiVersion}\nkind: Canary\nmetadata: {{name: x}}\nspec: {{}}\n");
        Assert.Equal($"apiVersion: {apiVersion} is not supported for Canary: use flagger.app/v1beta1 (the {version} API was removed in Flagger 1.0)",
            Assert.Single(doc.Errors()));
    }

    [Fact]
    public void Read_UnknownAviaryVersion_DoesNotMentionFlagger()
    {
        var doc = ReadOne("apiVersion: aviary.dev/v1alpha9\nkind: Workload\nmetadata: {name: x}\n");
        Assert.Equal("apiVersion: aviary.dev/v1alpha9 is not supported for Workload: use aviary.dev/v1alpha1", Assert.Single(doc.Errors()));
    }

    [Fact]
    public void Read_FlaggerKindInAviaryGroup_ListsTheGroupsKinds()
    {
        var doc = ReadOne("apiVersion: aviary.dev/v1alpha1\nkind: Workloads\nmetadata: {name: x}\n");
        Assert.Equal("kind: 'Workloads' is not a kind Aviary reads (one of Workload); did you mean Workload?", Assert.Single(doc.Errors()));
    }

    [Fact]
    public void Read_UnknownFlaggerVersion_IsError()
    {
        var doc = ReadOne("apiVersion: flagger.app/v2\nkind: MetricTemplate\nmetadata: {name: x}\n");
        Assert.Equal("apiVersion: flagger.app/v2 is not supported for MetricTemplate: use flagger.app/v1beta1", Assert.Single(doc.Errors()));
    }

    [Theory]
    [InlineData("apps/v1", "Deployment")]
    [InlineData("v1", "Service")]
    [InlineData("networking.istio.io/v1beta1", "VirtualService")]
    [InlineData("example.com/v1", "Canary")]
    public void Read_DocumentOfAnotherGroup_IsSkippedWithWarning(string apiVersion, string kind)
    {
        var doc = ReadOne($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{whatever: [1]}}\n");
        Assert.True(doc.Skipped);
        Assert.True(doc.IsValid);
        Assert.Equal($"{apiVersion} {kind} is not an Aviary document; skipped", Assert.Single(doc.Warnings()));
        Assert.Null(doc.Manifest);
    }

    [Theory]
    [InlineData("flager.app/v1beta1", "Canary")]
    [InlineData("flagger.io/v1beta1", "AlertProvider")]
    [InlineData("v1beta1", "Canary")]
    [InlineData("v1", "MetricTemplate")]
    public void Read_TypoInFlaggerGroup_IsErrorNotSkipped(string apiVersion, string kind)
    {
        var doc = ReadOne($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: x}}\n");
        Assert.False(doc.Skipped);
        Assert.Equal($"apiVersion: '{apiVersion}' is not an API version of {kind}; did you mean flagger.app/v1beta1?", Assert.Single(doc.Errors()));
    }

    [Fact]
    public void Read_DuplicateKeyInCanary_IsErrorWithPath()
    {
        var doc = ReadOne(Canary("interval: 30s\nthreshold: 5\nstepWeight: 10\nthreshold: 6"));
        Assert.Equal("spec.analysis.threshold: duplicate key (first set at line 16, column 5)", Assert.Single(doc.Errors()));
        Assert.Null(doc.Compiled);
    }

    [Fact]
    public void Read_SyntaxErrorAfterValidDocument_ReportsBoth()
    {
        var file = ManifestReader.Read(MetricTemplateYaml + "\n---\n" + "apiVersion: [\n");
        Assert.False(file.IsValid);
        Assert.True(Assert.Single(file.Documents).IsValid);
        Assert.NotNull(file.SyntaxError);
    }

    [Fact]
    public void Read_ErrorsAndWarnings_CarrySourcePositions()
    {
        var doc = ReadOne(Canary("interval: 30s\nthreshold: 5\nstepweight: 10\nmaxWeight: 500"));
        var unknown = doc.Diagnostics.Single(d => d.Path == "spec.analysis.stepweight");
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(17, 5), unknown.Position);
        var range = doc.Diagnostics.Single(d => d.Path == "spec.analysis.maxWeight");
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(18, 16), range.Position);
    }

    [Fact]
    public void ReadNode_JsonTreeFromApi_IsValidated()
    {
        var node = JsonNode.Parse("""
            {"apiVersion":"flagger.app/v1beta1","kind":"AlertProvider","metadata":{"name":"a"},
             "spec":{"type":"discord","address":"https://discord.com/api/webhooks/1"}}
            """);
        var doc = ManifestReader.ReadNode(node);
        Assert.True(doc.IsValid, doc.Diagnostics.Describe());
        Assert.IsType<AlertProvider>(doc.Compiled);
    }

    [Fact]
    public void ReadNode_Null_IsError()
    {
        var doc = ManifestReader.ReadNode(null);
        Assert.Equal("a manifest must be a mapping with apiVersion and kind (got null)", Assert.Single(doc.Errors()));
    }
}

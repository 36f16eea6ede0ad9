using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Tests.Manifests;
using static Aviary.Core.Tests.Manifests.TestManifests;

namespace Aviary.Core.Tests.Validation;

public sealed class SchemaValidatorTests
{
    [Fact]
    public void Validate_UnknownFieldWithCloseName_WarnsWithSuggestion()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepweight: 10\niterations: 1"));
        Assert.Contains("spec.analysis.stepweight: unknown field, did you mean stepWeight?", doc.Warnings());
        Assert.Empty(doc.Errors());
    }

    [Fact]
    public void Validate_UnknownFieldWithoutCloseName_WarnsIgnored()
    {
        var doc = ReadOne(Canary(specExtra: "flavour: vanilla"));
        Assert.Equal(["spec.flavour: unknown field, ignored"], doc.Warnings());
        Assert.NotNull(doc.Compiled);
    }

    [Fact]
    public void Validate_UnknownFieldWithOddName_IsQuotedInPath()
    {
        var doc = ReadOne(Canary(specExtra: "\"a b\": 1"));
        Assert.Equal(["spec[\"a b\"]: unknown field, ignored"], doc.Warnings());
    }

    [Theory]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: ten", "spec.analysis.stepWeight: must be an integer (got string 'ten')")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10.5", "spec.analysis.stepWeight: must be an integer (got 10.5)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: \"10\"", "spec.analysis.stepWeight: must be an integer (got string '10')")]
    [InlineData("interval: 60\nthreshold: 1\nstepWeight: 10", "spec.analysis.interval: must be a string (got 60)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nmirror: maybe", "spec.analysis.mirror: must be a boolean (true or false) (got string 'maybe')")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics: {name: x}", "spec.analysis.metrics: must be a list (got an object)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics: [request-success-rate]", "spec.analysis.metrics[0]: must be an object (got string 'request-success-rate')")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nstepWeights: [1, ~]", "spec.analysis.stepWeights[1]: must not be null")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nwebhooks:\n- name: a\n  url: http://a/\n  metadata: {cmd: ~}", "spec.analysis.webhooks[0].metadata.cmd: must be a string (got null)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-duration\n  thresholdRange: {max: .inf}", "spec.analysis.metrics[0].thresholdRange.max: must be a finite number (got Infinity)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 10\nmetrics:\n- name: request-duration\n  thresholdRange: {max: .nan}", "spec.analysis.metrics[0].thresholdRange.max: must be a finite number (got NaN)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 99999999999", "spec.analysis.stepWeight: must be an integer between -2147483648 and 2147483647 (got 99999999999)")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: 1e400", "spec.analysis.stepWeight: must be an integer (got string '1e400')")]
    [InlineData("interval: 1m\nthreshold: 1\nstepWeight: .inf", "spec.analysis.stepWeight: must be an integer (got Infinity)")]
    public void Validate_TypeMismatch_IsErrorNamingPathAndType(string analysis, string expected)
    {
        Assert.Contains(expected, ReadOne(Canary(analysis)).Errors());
    }

    [Theory]
    [InlineData("provider: istoi", "spec.provider: must be one of apisix, appmesh, appmesh:v1beta2, builtin, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo, haproxy, istio, knative, kubernetes, kuma, linkerd, nginx, osm, skipper, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik (got 'istoi'); did you mean istio?")]
    [InlineData("provider: zzz", "spec.provider: must be one of apisix, appmesh, appmesh:v1beta2, builtin, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo, haproxy, istio, knative, kubernetes, kuma, linkerd, nginx, osm, skipper, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik (got 'zzz')")]
    [InlineData("provider: Istio", "spec.provider: must be one of apisix, appmesh, appmesh:v1beta2, builtin, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo, haproxy, istio, knative, kubernetes, kuma, linkerd, nginx, osm, skipper, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik (got 'Istio'); did you mean istio?")]
    public void Validate_EnumValueNotAllowed_IsErrorWithSuggestion(string specExtra, string expected)
    {
        Assert.Equal([expected], ReadOne(Canary(specExtra: specExtra)).Errors());
    }

    [Fact]
    public void Validate_TargetKindTypo_SuggestsKind()
    {
        var yaml = Canary().Replace("kind: Deployment", "kind: Deploymnet", StringComparison.Ordinal);
        Assert.Equal(["spec.targetRef.kind: must be one of DaemonSet, Deployment, Service, Workload (got 'Deploymnet'); did you mean Deployment?"],
            ReadOne(yaml).Errors());
    }

    [Fact]
    public void Validate_RequiredFieldsMissing_AreAllReported()
    {
        var doc = ReadOne("""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {namespace: test}
            spec:
              targetRef: {kind: Deployment}
              service: {name: x}
            """);
        Assert.Equal(
        [
            "metadata.name: required field is missing",
            "spec.targetRef.apiVersion: required field is missing",
            "spec.targetRef.name: required field is missing",
            "spec.service.port: required field is missing",
            "spec.analysis: required field is missing",
        ], doc.Errors());
    }

    [Fact]
    public void Validate_SpecMissing_IsRequiredError()
    {
        Assert.Equal(["spec: required field is missing"], ReadOne("apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: x}\n").Errors());
    }

    [Fact]
    public void Validate_RequiredFieldSetToNull_IsMissing()
    {
        var yaml = Canary().Replace("    name: podinfo\n  service", "    name: ~\n  service", StringComparison.Ordinal);
        Assert.Equal(["spec.targetRef.name: required field is missing"], ReadOne(yaml).Errors());
    }

    [Fact]
    public void Validate_SchemaRanges_AreChecked()
    {
        var doc = ReadOne(Canary(specExtra: """
            autoscalerRef:
              apiVersion: autoscaling/v2
              kind: HorizontalPodAutoscaler
              name: podinfo
              primaryScalerReplicas: {minReplicas: 0}
            """).Replace("port: 9898", "port: 9898\n    gatewayRefs: [{name: gw, port: 70000, namespace: ''}]", StringComparison.Ordinal));
        Assert.Equal(
        [
            "spec.service.gatewayRefs[0].port: must be between 1 and 65535 (got 70000)",
            "spec.service.gatewayRefs[0].namespace: must be 1 to 63 characters long (got 0)",
            "spec.autoscalerRef.primaryScalerReplicas.minReplicas: must be between 1 and 2147483647 (got 0)",
        ], doc.Errors());
    }

    [Fact]
    public void Validate_TooManyGatewayRefs_IsError()
    {
        var refs = string.Join(", ", Enumerable.Range(0, 33).Select(i => $"{{name: gw{i}}}"));
        var doc = ReadOne(Canary().Replace("port: 9898", $"port: 9898\n    gatewayRefs: [{refs}]", StringComparison.Ordinal));
        Assert.Equal(["spec.service.gatewayRefs: must have at most 32 items (got 33)"], doc.Errors());
    }

    [Theory]
    [InlineData("9898", true)]
    [InlineData("http", false)]
    public void Validate_TargetPort_IsIntOrString(string value, bool isInt)
    {
        var doc = ReadOne(Canary().Replace("port: 9898", $"port: 80\n    targetPort: {value}", StringComparison.Ordinal));
        var canary = Assert.IsType<CanaryPolicy>(doc.Compiled).Manifest;
        Assert.Equal(isInt, canary.Spec.Service!.TargetPort!.Value.IsInt);
        Assert.Equal(value, canary.Spec.Service.TargetPort.Value.ToString());
    }

    [Fact]
    public void Validate_TargetPortOfWrongType_IsError()
    {
        var doc = ReadOne(Canary().Replace("port: 9898", "port: 80\n    targetPort: [1]", StringComparison.Ordinal));
        Assert.Equal(["spec.service.targetPort: must be an integer or a string (got a list)"], doc.Errors());
    }

    [Fact]
    public void Validate_NonFiniteNumberInFreeFormField_IsErrorNotCrash()
    {
        // metadata.managedFields is free-form JSON; NaN cannot be serialized to bind it.
        var yaml = Canary().Replace("namespace: test", "namespace: test\n  managedFields: [{a: [1, .nan]}]", StringComparison.Ordinal);
        Assert.Equal(["metadata.managedFields[0].a[1]: must be a finite number (got NaN)"], ReadOne(yaml).Errors());
    }

    [Fact]
    public void Validate_FreeFormField_IsKeptVerbatim()
    {
        var yaml = Canary().Replace("namespace: test", "namespace: test\n  managedFields: [{manager: kubectl, fieldsV1: {f:spec: {}}}]", StringComparison.Ordinal);
        var canary = Assert.IsType<CanaryPolicy>(ReadOne(yaml).Compiled).Manifest;
        Assert.Equal("""[{"manager":"kubectl","fieldsV1":{"f:spec":{}}}]""", canary.Metadata.ManagedFields!.ToJsonString());
    }

    [Theory]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("1e3", 1000L)]
    public void Validate_Int64Field_IsExact(string value, long expected)
    {
        var yaml = Canary().Replace("namespace: test", $"namespace: test\n  generation: {value}", StringComparison.Ordinal);
        var canary = Assert.IsType<CanaryPolicy>(ReadOne(yaml).Compiled).Manifest;
        Assert.Equal(expected, canary.Metadata.Generation);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("18446744073709551615")]
    [InlineData("9.3e18")]
    public void Validate_Int64FieldOverflow_IsRangeError(string value)
    {
        var yaml = Canary().Replace("namespace: test", $"namespace: test\n  generation: {value}", StringComparison.Ordinal);
        Assert.StartsWith("metadata.generation: must be an integer between -9223372036854775808 and 9223372036854775807 (got ",
            Assert.Single(ReadOne(yaml).Errors()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2024-01-02T15:04:05Z", true)]
    [InlineData("2024-01-02T15:04:05.123456789+02:00", true)]
    [InlineData("01/02/2024", false)]
    [InlineData("yesterday", false)]
    [InlineData("2024-13-02T15:04:05Z", false)]
    public void Validate_DateTime_AcceptsOnlyWhatBinds(string value, bool valid)
    {
        var yaml = Canary() + $"\nstatus:\n  lastTransitionTime: \"{value}\"\n";
        var doc = ReadOne(yaml);
        if (valid)
        {
            Assert.Empty(doc.Errors());
            Assert.NotNull(Assert.IsType<CanaryPolicy>(doc.Compiled).Manifest.Status!.LastTransitionTime);
        }
        else
        {
            Assert.Equal([$"status.lastTransitionTime: must be an RFC 3339 date-time such as 2024-01-02T15:04:05Z (got string '{value}')"], doc.Errors());
        }
    }

    [Fact]
    public void Validate_BadValues_AreLeftOutSoTheModelStillBinds()
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10\nmaxWeight: lots"));
        Assert.Equal(["spec.analysis.maxWeight: must be an integer (got string 'lots')"], doc.Errors());
        var canary = Assert.IsType<Canary>(doc.Manifest);
        Assert.Null(canary.Spec.Analysis!.MaxWeight);
        Assert.Equal(10, canary.Spec.Analysis.StepWeight);
        Assert.Null(doc.Compiled);
    }

    [Fact]
    public void Validate_LabelsMustBeStrings()
    {
        var yaml = Canary().Replace("namespace: test", "namespace: test\n  labels: {app: podinfo, replicas: 3, enabled: yes}", StringComparison.Ordinal);
        Assert.Equal(["metadata.labels.replicas: must be a string (got 3)", "metadata.labels.enabled: must be a string (got true)"], ReadOne(yaml).Errors());
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Core.Validation;
using static Aviary.Core.Tests.Manifests.TestManifests;

namespace Aviary.Core.Tests.Validation;

/// <summary>What a provider's router cannot do is refused by validation, at its field path, before anything runs.</summary>
public sealed class RouterCapabilitiesTests
{
    private const string ABTesting = "interval: 1m\nthreshold: 1\niterations: 5\nmatch:\n- headers:\n    x-canary:\n      exact: insider";
    private const string Mirroring = "interval: 1m\nthreshold: 1\niterations: 5\nmirror: true";
    private const string Affinity = "interval: 1m\nthreshold: 1\nstepWeight: 10\nsessionAffinity:\n  cookieName: canary-session";

    [Fact]
    public void HAProxy_ABTesting_IsRefusedAtMatch()
    {
        var errors = ReadOne(Canary(ABTesting, "provider: haproxy")).Errors();

        Assert.Equal(["spec.analysis.match: A/B testing is not supported by the haproxy router (providers that support it: "
            + "builtin, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo, istio, nginx)"], errors);
    }

    [Theory]
    [InlineData("appmesh")]
    [InlineData("appmesh:v1beta2")]
    public void AppMesh_EndOfLife_RefusedAtProviderWithTheReason(string provider)
    {
        var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10", $"provider: {provider}"));

        Assert.Equal([$"spec.provider: '{provider}': AWS App Mesh reached its end of life in September 2026 and Aviary has no router for it; "
            + "move the service to another mesh or ingress (for example gatewayapi:v1 or istio)"], doc.Errors());
        Assert.Null(doc.Compiled);
    }

    [Theory]
    [InlineData("haproxy", Mirroring, "spec.analysis.mirror", "mirroring")]
    [InlineData("linkerd", Mirroring, "spec.analysis.mirror", "mirroring")]
    [InlineData("nginx", Mirroring, "spec.analysis.mirror", "mirroring")]
    [InlineData("linkerd", ABTesting, "spec.analysis.match", "A/B testing")]
    [InlineData("traefik", ABTesting, "spec.analysis.match", "A/B testing")]
    [InlineData("haproxy", Affinity, "spec.analysis.sessionAffinity", "session affinity")]
    [InlineData("nginx", Affinity, "spec.analysis.sessionAffinity", "session affinity")]
    [InlineData("contour", Affinity, "spec.analysis.sessionAffinity", "session affinity")]
    public void UnsupportedFeature_IsAnErrorAtItsPath(string provider, string analysis, string path, string feature)
    {
        var doc = ReadOne(Canary(analysis, $"provider: {provider}"));

        var error = Assert.Single(doc.Errors());
        Assert.StartsWith($"{path}: {feature} is not supported by the {provider} router", error, StringComparison.Ordinal);
        Assert.Null(doc.Compiled);
    }

    [Theory]
    [InlineData("builtin", ABTesting)]
    [InlineData("builtin", Mirroring)]
    [InlineData("builtin", Affinity)]
    [InlineData("istio", ABTesting)]
    [InlineData("istio", Mirroring)]
    [InlineData("gatewayapi:v1", Mirroring)]
    [InlineData("istio", Affinity)]
    [InlineData("gatewayapi:v1", Affinity)]
    [InlineData("gatewayapi:v1beta1", Affinity)]
    [InlineData("nginx", ABTesting)]
    [InlineData("contour", ABTesting)]
    [InlineData("", Affinity)] // the runtime's default provider: checked by the runtime once it has chosen
    public void SupportedFeature_IsValid(string provider, string analysis)
    {
        var doc = ReadOne(Canary(analysis, provider.Length == 0 ? "" : $"provider: {provider}"));

        Assert.Empty(doc.Errors());
        Assert.IsType<CanaryPolicy>(doc.Compiled);
    }

    [Fact]
    public void Kubernetes_ABTesting_IsAWarning_AndRunsAsBlueGreen()
    {
        var doc = ReadOne(Canary(ABTesting, "provider: kubernetes"));

        Assert.Empty(doc.Errors());
        var policy = Assert.IsType<CanaryPolicy>(doc.Compiled);
        Assert.False(policy.Capabilities.Weights);
        Assert.Contains(doc.Warnings(), w => w.StartsWith("spec.analysis.match: A/B testing is not supported by the kubernetes router", StringComparison.Ordinal));
    }

    [Fact]
    public void RuntimeCheck_OfTheDefaultProvider_RefusesWhatItCannotDo()
    {
        var policy = Assert.IsType<CanaryPolicy>(ReadOne(Canary(Affinity)).Compiled);

        var refused = RouterCapabilities.Check(policy, Providers.Linkerd);

        Assert.Equal("spec.analysis.sessionAffinity", Assert.Single(refused, d => d.IsError).Path);
        Assert.Empty(RouterCapabilities.Check(policy, Providers.Builtin));
        Assert.Null(RouterCapabilities.Refusal(policy, Providers.Builtin, mirrored: true));
        Assert.StartsWith("cannot route podinfo.test: spec.analysis.sessionAffinity: session affinity", RouterCapabilities.Refusal(policy, Providers.Linkerd), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProvider_IsAcceptedBySpecProvider_AndHasCapabilities()
    {
        foreach (var provider in Providers.All.Where(p => Providers.Retired(p) is null))
        {
            var doc = ReadOne(Canary("interval: 1m\nthreshold: 1\nstepWeight: 10", $"provider: {provider}"));
            Assert.True(doc.Errors().Count == 0, provider + ": " + string.Join("; ", doc.Errors()));
            Assert.Equal(provider != Providers.Kubernetes, RouterCapabilities.Of(provider).Weights);
        }
    }

    private static string GrpcCanary(string analysis, string provider) =>
        Canary(analysis, $"provider: {provider}").Replace("    port: 9898", "    port: 9898\n    routeKind: GRPCRoute", StringComparison.Ordinal);

    [Fact]
    public void GrpcRoute_OnGatewayApi_ValidAndOtherProvidersRefuseItAtRouteKind()
    {
        Assert.Empty(ReadOne(GrpcCanary(Mirroring, "gatewayapi:v1")).Errors());
        Assert.Empty(ReadOne(GrpcCanary(ABTesting, "gatewayapi:v1beta1")).Errors());
        Assert.Equal(["spec.service.routeKind: GRPCRoute is written by the gatewayapi:v1 and gatewayapi:v1beta1 routers only, not by the istio router"],
            ReadOne(GrpcCanary(ABTesting, "istio")).Errors());
    }

    [Fact]
    public void GrpcRoute_SessionAffinity_RefusedAtItsPathWithTheReason() =>
        Assert.Equal(["spec.analysis.sessionAffinity: session affinity is not supported by the gatewayapi:v1 router for a GRPCRoute (spec.service.routeKind): gRPC clients keep no cookies"],
            ReadOne(GrpcCanary(Affinity, "gatewayapi:v1")).Errors());

    [Fact]
    public void RouteKind_NotAKind_RefusedWithTheAllowedValues() =>
        Assert.Contains(ReadOne(Canary(Mirroring, "provider: gatewayapi:v1").Replace("    port: 9898", "    port: 9898\n    routeKind: TCPRoute", StringComparison.Ordinal)).Errors(),
            e => e.StartsWith("spec.service.routeKind:", StringComparison.Ordinal) && e.Contains("GRPCRoute", StringComparison.Ordinal));
}

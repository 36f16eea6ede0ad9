using System.Net;
using System.Net.Sockets;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.TestKit;

namespace Aviary.Routing.Tests.Contract;

/// <summary>A router set up by a subclass of <see cref="RouterContract"/> for one canary service.</summary>
public interface IRouterUnderTest : IAsyncDisposable
{
    IRouter Router { get; }

    /// <summary>Where the instances of the service are published.</summary>
    IBackendRegistry Registry { get; }

    /// <summary>Where clients send requests for the service (its apex).</summary>
    Uri Address { get; }

    /// <summary>Returns once endpoint changes made so far are in effect (for routers that apply them in the background).</summary>
    Task SettleAsync();
}

/// <summary>The canaries the contract routes: one service (<c>podinfo.test</c>) on a free loopback port.</summary>
public static class ContractCanaries
{
    public const string Service = "podinfo.test";

    /// <summary>A plain canary release (stepWeight 10, maxWeight 50).</summary>
    public static CanaryPolicy Canary(string provider, int port) => Compile(provider, port, """
            stepWeight: 10
            maxWeight: 50
        """);

    /// <summary>A/B testing: requests with <c>x-canary: insider</c> are split by the weights, others go to the primary.</summary>
    public static CanaryPolicy ABTesting(string provider, int port) => Compile(provider, port, """
            iterations: 10
            match:
              - headers:
                  x-canary:
                    exact: insider
        """);

    /// <summary>Blue/green with mirroring.</summary>
    public static CanaryPolicy Mirroring(string provider, int port) => Compile(provider, port, """
            iterations: 10
            mirror: true
        """);

    /// <summary>A canary release with session affinity: cookies <c>canary-session</c> and <c>primary-session</c>.</summary>
    public static CanaryPolicy SessionAffinity(string provider, int port) => Compile(provider, port, """
            stepWeight: 10
            maxWeight: 50
            sessionAffinity:
              cookieName: canary-session
              primaryCookieName: primary-session
              maxAge: 3600
        """);

    private static CanaryPolicy Compile(string provider, int port, string analysis) => SchedulerHarness.CompileForRouter($"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
          namespace: test
        spec:
          provider: {provider}
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: {port}
          analysis:
            interval: 1m
            threshold: 5
        {analysis}
        """);

    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int FreePort() => FreePorts.Next();
}

using System.Diagnostics;
using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Routing;
using Aviary.Core.Policy;
using Aviary.Metrics.Observers;
using Aviary.Metrics.Templates;
using Aviary.Metrics.Tests.Agreement;
using Aviary.Routing.HAProxy;
using Aviary.TestKit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Metrics.Tests.Observers;

/// <summary>
/// The built-in <c>request-duration</c> query of <c>provider: haproxy</c>, run by a real Prometheus on a real HAProxy
/// 2.6's exporter, while a slow canary still has requests in flight: the mean must be the completed requests' latency.
/// HAProxy counts a session when it starts (<c>haproxy_server_sessions_total</c>) but adds a response time to its
/// average only when the answer arrives, so undoing the average's warm-up with the session count read a slow canary
/// at a fraction of its latency (seen as a 2.5 s release promoted in a CI run).
/// </summary>
[Collection(RealServersCollection.Name)]
public sealed class HAProxyDurationQueryTests
{
    private const string Service = "podinfo.test";
    private const int Completed = 16;

    [Fact]
    public async Task RequestDuration_SlowCanaryWithRequestsInFlight_ReadsTheCompletedRequestsLatency()
    {
        DebianPackages.Ensure("haproxy");
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = 0;
        await using var primary = await KestrelApp.StartAsync(context => context.Response.WriteAsync("primary"));
        await using var canary = await KestrelApp.StartAsync(async context =>
        {
            if (context.Request.Path == "/hold")
            {
                Interlocked.Increment(ref holding);
                await held.Task;
            }
            else
            {
                // The release's latency: every completed canary request takes at least a second.
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            await context.Response.WriteAsync("canary");
        });

        var directory = Directory.CreateTempSubdirectory("aviary-hd-").FullName;
        var metricsPort = FreePorts.Next();
        var policy = SchedulerHarness.CompileForRouter($$"""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo, namespace: test}
            spec:
              provider: haproxy
              targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
              service: {port: {{FreePorts.Next().ToString(CultureInfo.InvariantCulture)}}}
              analysis: {interval: 1m, threshold: 5, stepWeight: 10, maxWeight: 50}
            """);
        var router = new HAProxyRouter(new HAProxyOptions { StateDirectory = directory, MetricsPort = metricsPort },
            TimeProvider.System, NullLoggerFactory.Instance);
        try
        {
            router.SetEndpoints(Service, BackendRole.Primary, [new BackendEndpoint("primary-0", primary.Url)]);
            router.SetEndpoints(Service, BackendRole.Canary, [new BackendEndpoint("canary-0", canary.Url)]);
            var reconciled = await router.ReconcileAsync(policy, CancellationToken.None);
            Assert.True(reconciled.Succeeded, reconciled.Error);
            var routed = await router.SetRoutesAsync(policy, new RouteWeights(0, 100), CancellationToken.None);
            Assert.True(routed.Succeeded, routed.Error);
            await using var prometheus = await PrometheusServer.StartAsync(new ScrapeTarget("haproxy", $"127.0.0.1:{metricsPort.ToString(CultureInfo.InvariantCulture)}"));
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{policy.ServicePort!.Value.ToString(CultureInfo.InvariantCulture)}") };

            // Sixteen completed canary requests of at least a second each, then eight that stay in flight.
            var clock = Stopwatch.StartNew();
            var completed = await Task.WhenAll(Enumerable.Range(0, Completed).Select(async _ =>
            {
                var started = clock.Elapsed;
                using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
                Assert.Equal("canary", await response.Content.ReadAsStringAsync());
                return clock.Elapsed - started;
            }));
            var inFlight = Enumerable.Range(0, 8).Select(_ => client.GetAsync(new Uri("/hold", UriKind.Relative))).ToList();
            try
            {
                await Eventually.True(() => Volatile.Read(ref holding) == 8);
                var labels = router.MetricLabels(Service);
                var selector = $$"""{proxy="{{labels.Backend}}",server=~"{{labels.CanaryServerPattern}}"}""";
                await prometheus.WaitForValueAsync(
                    $$"""sum(haproxy_server_sessions_total{{selector}}) >= {{Completed + 8}} and sum(haproxy_server_http_responses_total{{selector}}) >= {{Completed}}""");

                var model = new MetricTemplateModel
                {
                    Name = "podinfo", Namespace = "test", Target = "podinfo", Service = "podinfo", Ingress = "podinfo", Route = "podinfo",
                    Interval = "1m",
                    Variables = new Dictionary<string, string>
                    {
                        [HAProxy.BackendVariable] = labels.Backend,
                        [HAProxy.CanaryServersVariable] = labels.CanaryServerPattern,
                    },
                };
                var query = ObserverQueries.For("haproxy").Value!.Render(MetricCheck.RequestDuration, model);
                Assert.True(query.Succeeded, query.Error);
                var milliseconds = await prometheus.QueryValueAsync(query.Value!);

                // HAProxy's response time of each is at least the backend's second (the session count read about
                // 16/24 of it). HAProxy exports the raw average in whole milliseconds, rounded up: after k answers one
                // millisecond of it is 1 / (1 − (511/512)^k) ms of the mean (32 ms after 16), and HAProxy's clock is
                // not the client's, so the upper bound only rules out a gross overcorrection.
                Assert.NotNull(milliseconds);
                var resolution = 1 / (1 - Math.Pow(511.0 / 512, Completed));
                Assert.InRange(milliseconds.Value, 990, completed.Max().TotalMilliseconds * 1.5 + resolution);
            }
            finally
            {
                held.TrySetResult();
                foreach (var request in inFlight) (await request).Dispose();
            }
        }
        finally
        {
            await router.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}

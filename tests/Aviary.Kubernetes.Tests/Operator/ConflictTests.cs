using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Observability;
using Aviary.Core.Scheduling;
using Aviary.Core.Simulation;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Acceptance item 5: a user edits the Canary while the operator writes its status, and nothing is lost. The
/// controller's ticks run against the real API server (the Canary object, its status subresource, its finalizer and
/// Events) with fakes behind the scheduler (workload, router, metrics) in virtual time, while a second client patches
/// the Canary's labels, annotations and spec as fast as the server takes them. The operator's client log proves that
/// its writes met 409 Conflict and were retried.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class ConflictTests(KubeApiServerFixture fixture)
{
    private KubeApiServer Server => fixture.Server;

    private static string CanaryYaml(string ns) => $$"""
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
          namespace: {{ns}}
          labels: {app: podinfo}
        spec:
          provider: linkerd
          revertOnDeletion: true
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
          service: {port: 9898}
          analysis:
            interval: 10s
            threshold: 5
            stepWeight: 10
            maxWeight: 50
            metrics:
            - name: request-success-rate
              thresholdRange: {min: 99}
              interval: 1m
        """;

    [Fact]
    public async Task Tick_UserEditsTheCanaryMeanwhile_OperatorRetries409AndBothChangesSurvive()
    {
        var ns = await Server.CreateNamespaceAsync("conflict");
        await Server.ApplyAsync(CanaryYaml(ns));

        var clock = new VirtualClock();
        var workload = new FakeWorkload(clock);
        var router = new FakeRouter();
        var metrics = new FakeMetrics();
        metrics.Set("request-success-rate", 100);
        var services = new SchedulerServices(workload, router, metrics, new FakeWebhooks(), new FakeNotifier(), clock);
        var log = new CapturingLoggers();
        using var operatorClient = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig), loggerFactory: log);
        var controller = new CanaryController(operatorClient, _ => services, new KubeEventRecorder(operatorClient, NullLogger.Instance),
            new CanaryMetrics("test", "kubernetes", clock), () => true, clock, NullLogger.Instance, ns);

        // The user: kubectl label / annotate / patch in a loop (merge patches: each lands on the latest version).
        using var userClient = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig), new KubeClientOptions { Qps = 0 });
        var canaries = userClient.Resource(KubeResources.Canaries);
        using var stopEditing = new CancellationTokenSource();
        var lastEdit = -1;
        var editor = Task.Run(async () =>
        {
            for (var i = 0; !stopEditing.IsCancellationRequested; i++)
            {
                var text = i.ToString(CultureInfo.InvariantCulture);
                var patched = await canaries.PatchAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
                {
                    ["metadata"] = new JsonObject
                    {
                        ["labels"] = new JsonObject { ["edit"] = text },
                        ["annotations"] = new JsonObject { ["example.com/note"] = "edit " + text },
                    },
                    ["spec"] = new JsonObject { ["analysis"] = new JsonObject { ["threshold"] = 5 + i % 3 } },
                }), CancellationToken.None);
                Assert.True(patched.Succeeded, patched.ToString());
                lastEdit = i;
                await Task.Delay(3, CancellationToken.None);
            }
        }, CancellationToken.None);

        var weights = new List<int>();
        try
        {
            // Initialise, then a new revision rolls out to promotion; ticks go on until the operator has met conflicts.
            for (var tick = 0; tick < 80; tick++)
            {
                if (tick == 1) workload.NewRevision();
                var next = await controller.TickAsync(ns, "podinfo", CancellationToken.None);
                Assert.Equal(TimeSpan.FromSeconds(10), next);
                clock.Advance(TimeSpan.FromSeconds(10));

                // After every tick the server holds exactly what the tick decided: a lost status write would leave
                // the status behind the router's weights.
                var status = await StatusAsync(canaries, ns);
                Assert.Equal(router.Weights.Canary, status.CanaryWeight);
                if (status.Phase == CanaryPhase.Progressing) weights.Add(status.CanaryWeight);
                if (tick > 1 && status.Phase == CanaryPhase.Succeeded && log.Conflicts >= 3) break;
            }
        }
        finally
        {
            await stopEditing.CancelAsync();
            await editor;
        }

        Assert.True(log.Conflicts >= 3, $"the operator met {log.Conflicts} conflicts while the user edited {lastEdit + 1} times");
        var final = (await canaries.GetAsync(ns, "podinfo")).GetValueOrThrow();
        var finalStatus = await StatusAsync(canaries, ns);
        // The operator's changes: the status of the finished rollout, and its finalizer (revertOnDeletion).
        Assert.Equal(CanaryPhase.Succeeded, finalStatus.Phase);
        Assert.Equal(workload.Revision, finalStatus.LastAppliedSpec);
        Assert.Equal(workload.Revision, workload.PrimaryRevision);
        Assert.Contains(final["metadata"]!["finalizers"]!.AsArray(), f => f!.GetValue<string>() == CanaryController.Finalizer);
        Assert.Equal([0, 10, 20, 30, 40, 50], weights.Distinct());
        // The user's changes: the last edit of each field.
        var last = lastEdit.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(last, final["metadata"]!["labels"]!["edit"]!.GetValue<string>());
        Assert.Equal("podinfo", final["metadata"]!["labels"]!["app"]!.GetValue<string>());
        Assert.Equal("edit " + last, final["metadata"]!["annotations"]!["example.com/note"]!.GetValue<string>());
        Assert.Equal(5 + lastEdit % 3, final["spec"]!["analysis"]!["threshold"]!.GetValue<int>());
        Assert.Equal(0, log.Errors);
    }

    [Fact]
    public async Task Tick_ActionAnnotationClearedWhileUserEdits_OtherAnnotationsSurvive()
    {
        var ns = await Server.CreateNamespaceAsync("conflict-action");
        await Server.ApplyAsync(CanaryYaml(ns));
        var clock = new VirtualClock();
        var workload = new FakeWorkload(clock);
        var metrics = new FakeMetrics();
        metrics.Set("request-success-rate", 100);
        var services = new SchedulerServices(workload, new FakeRouter(), metrics, new FakeWebhooks(), new FakeNotifier(), clock);
        var log = new CapturingLoggers();
        using var operatorClient = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig), loggerFactory: log);
        var controller = new CanaryController(operatorClient, _ => services, new KubeEventRecorder(operatorClient, NullLogger.Instance),
            new CanaryMetrics("test", "kubernetes", clock), () => true, clock, NullLogger.Instance, ns);
        using var userClient = new KubeClient(KubeClientConfig.FromKubeconfig(Server.AdminKubeconfig), new KubeClientOptions { Qps = 0 });
        var canaries = userClient.Resource(KubeResources.Canaries);

        await controller.TickAsync(ns, "podinfo", CancellationToken.None);
        workload.NewRevision();
        for (var i = 0; i < 3; i++)
        {
            await controller.TickAsync(ns, "podinfo", CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(10));
        }
        Assert.Equal(CanaryPhase.Progressing, (await StatusAsync(canaries, ns)).Phase);

        await Server.KubectlAsync("annotate", "canary/podinfo", "-n", ns, $"{CanaryController.ActionAnnotation}=promote");
        using var stopEditing = new CancellationTokenSource();
        var lastEdit = -1;
        var editor = Task.Run(async () =>
        {
            for (var i = 0; !stopEditing.IsCancellationRequested; i++)
            {
                var patched = await canaries.PatchAsync(ns, "podinfo", KubePatch.Merge(new JsonObject
                {
                    ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["example.com/note"] = i.ToString(CultureInfo.InvariantCulture) } },
                }), CancellationToken.None);
                Assert.True(patched.Succeeded, patched.ToString());
                lastEdit = i;
                await Task.Delay(2, CancellationToken.None);
            }
        }, CancellationToken.None);
        try
        {
            for (var i = 0; i < 10 && (await StatusAsync(canaries, ns)).Phase != CanaryPhase.Succeeded; i++)
            {
                await controller.TickAsync(ns, "podinfo", CancellationToken.None);
                clock.Advance(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            await stopEditing.CancelAsync();
            await editor;
        }
        var final = (await canaries.GetAsync(ns, "podinfo")).GetValueOrThrow();
        var annotations = final["metadata"]!["annotations"]!.AsObject();
        Assert.False(annotations.ContainsKey(CanaryController.ActionAnnotation), final.ToJsonString());
        Assert.Equal(lastEdit.ToString(CultureInfo.InvariantCulture), annotations["example.com/note"]!.GetValue<string>());
        Assert.Equal(CanaryPhase.Succeeded, (await StatusAsync(canaries, ns)).Phase);
        Assert.Equal(workload.Revision, workload.PrimaryRevision);
        Assert.Equal(0, log.Errors);
    }

    private static async Task<CanaryStatus> StatusAsync(ResourceClient<JsonObject> canaries, string ns)
    {
        var canary = (await canaries.GetAsync(ns, "podinfo")).GetValueOrThrow();
        var node = canary["status"] ?? new JsonObject();
        return node.Deserialize<CanaryStatus>(ModelJson.Options) ?? CanaryStatus.Empty;
    }

    /// <summary>Counts the client's conflict retries (event 4) and its warnings and errors.</summary>
    private sealed class CapturingLoggers : ILoggerFactory, ILoggerProvider
    {
        private int _conflicts;
        private int _errors;

        public ConcurrentQueue<string> Lines { get; } = new();

        public int Conflicts => Volatile.Read(ref _conflicts);

        public int Errors => Volatile.Read(ref _errors);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggers owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = formatter(state, exception);
                owner.Lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {line}");
                if (category == "Aviary.Kubernetes.Client" && eventId.Name == "ConflictRetry") Interlocked.Increment(ref owner._conflicts);
                if (logLevel >= LogLevel.Warning) Interlocked.Increment(ref owner._errors);
            }
        }
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.TestKit;

/// <summary>A workload whose revision and readiness a test sets directly; it logs every action.</summary>
public sealed class FakeWorkload(TimeProvider time) : IWorkload
{
    private int _revision;
    public List<string> Actions { get; } = [];
    public bool PrimaryReady { get; set; } = true;
    public bool CanaryReady { get; set; } = true;
    public bool Stalled { get; set; }
    public DateTimeOffset? PrimaryWaitingSince { get; set; }
    public DateTimeOffset? CanaryWaitingSince { get; set; }
    public bool CanaryRunning { get; private set; } = true;
    public string? FailNext { get; set; }

    public string Revision => Hashing.Fnv32aHex($"rev-{_revision}");
    public string PrimaryRevision { get; private set; } = Hashing.Fnv32aHex("rev-0");

    /// <summary>Simulates <c>kubectl set image</c>.</summary>
    public void NewRevision() => _revision++;

    /// <summary>Puts the target back on an earlier revision.</summary>
    public void SetRevision(int n) => _revision = n;

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok();

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!PrimaryReady) PrimaryWaitingSince ??= now;
        else PrimaryWaitingSince = null;
        var canaryReady = CanaryReady || !CanaryRunning;
        if (!canaryReady) CanaryWaitingSince ??= now;
        else CanaryWaitingSince = null;
        return ValueTask.FromResult(Outcome<WorkloadState>.Ok(new WorkloadState(
            Revision,
            PrimaryReady ? Readiness.IsReady : Readiness.NotReady("primary not ready", PrimaryWaitingSince, Stalled),
            canaryReady ? Readiness.IsReady : Readiness.NotReady("canary not ready", CanaryWaitingSince, Stalled),
            PrimaryRevision: PrimaryRevision)));
    }

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Actions.Add("scale-up");
        if (Fail() is { } f) return f;
        CanaryRunning = true;
        return Ok();
    }

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Actions.Add("scale-down");
        if (Fail() is { } f) return f;
        CanaryRunning = false;
        return Ok();
    }

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Actions.Add("promote");
        if (Fail() is { } f) return f;
        PrimaryRevision = Revision;
        return Ok();
    }

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Actions.Add("revert");
        CanaryRunning = true;
        return Ok();
    }

    private ValueTask<Outcome>? Fail()
    {
        if (FailNext is not { } error) return null;
        FailNext = null;
        return ValueTask.FromResult(Outcome.Fail(error));
    }

    private static ValueTask<Outcome> Ok() => ValueTask.FromResult(Outcome.Ok);
}

/// <summary>A router that keeps weights in memory and logs every change.</summary>
public sealed class FakeRouter : IRouter
{
    public RouteWeights Weights { get; set; } = RouteWeights.AllPrimary;
    public List<RouteWeights> History { get; } = [];
    public bool Finalized { get; private set; }

    public ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) => ValueTask.FromResult(Outcome.Ok);

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<RouteWeights>.Ok(Weights));

    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        Weights = weights;
        History.Add(weights);
        return ValueTask.FromResult(Outcome.Ok);
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Finalized = true;
        Weights = RouteWeights.AllPrimary;
        return ValueTask.FromResult(Outcome.Ok);
    }
}

/// <summary>Metrics a test sets per name; unset metrics pass.</summary>
public sealed class FakeMetrics : IMetricProvider
{
    private readonly Dictionary<string, MetricSample> _values = new(StringComparer.Ordinal);
    public List<string> Queries { get; } = [];

    public void Set(string name, double value) => _values[name] = MetricSample.Of(value);

    public void NoData(string name) => _values[name] = MetricSample.NoData("no values found");

    public void Error(string name, string message) => _values[name] = MetricSample.Failed(message);

    public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        Queries.Add(metric.Name);
        return ValueTask.FromResult(_values.TryGetValue(metric.Name, out var v) ? v : MetricSample.Of(Core.Simulation.ScriptedMetrics.Passing(metric)));
    }
}

/// <summary>Webhooks a test answers per name (200 by default); every call is logged with its payload.</summary>
public sealed class FakeWebhooks : IWebhookClient
{
    private readonly Dictionary<string, int> _status = new(StringComparer.Ordinal);
    public List<(WebhookCheck Hook, WebhookPayload Payload)> Calls { get; } = [];

    public void Answer(string name, int status) => _status[name] = status;

    public ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken)
    {
        Calls.Add((hook, payload));
        var status = _status.GetValueOrDefault(hook.Name, 200);
        return ValueTask.FromResult(WebhookResult.FromStatus(status, status >= 300 ? "nope" : null));
    }
}

/// <summary>A notifier that keeps what it is sent.</summary>
public sealed class FakeNotifier : INotifier
{
    public List<(NamedReference? Provider, Alert Alert)> Sent { get; } = [];

    public ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
    {
        Sent.Add((provider, alert));
        return ValueTask.CompletedTask;
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Local.Store;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Workloads;

/// <summary>The Workload a canary targets, as currently declared, and the folder its manifest is in.</summary>
public sealed record WorkloadSource(Workload Workload, string BaseDir)
{
    public ProcessTemplate Template => Workload.Spec.Template;
    public int Replicas => Workload.Spec.Replicas ?? 1;
    public string Revision => WorkloadRevision.Of(Template);
}

/// <summary>
/// <see cref="IWorkload"/> for the local runtime: the primary runs the promoted template, the canary runs the
/// Workload's current template while it is analysed. What the primary runs and whether the canary is up are
/// persisted, so a restarted controller rebuilds the same picture (adopting the instances still alive).
/// </summary>
public sealed class LocalWorkload : IWorkload, IAsyncDisposable
{
    private readonly string _key;
    private readonly Func<WorkloadSource?> _target;
    private readonly StateStore _store;
    private readonly InstanceSet _primary;
    private readonly InstanceSet _canary;
    private readonly TimeSpan _drainTimeout;
    private PrimaryRecord? _record;

    public LocalWorkload(CanaryPolicy canary, Func<WorkloadSource?> target, IBackendRegistry router, StateStore store, string logDir,
        TimeProvider time, ILoggerFactory loggers, HttpClient probe, TimeSpan drainTimeout)
    {
        _key = canary.Id;
        _target = target;
        _store = store;
        _drainTimeout = drainTimeout;
        var logger = loggers.CreateLogger("Aviary.Local.Workloads");
        _primary = new InstanceSet(_key, canary.PrimaryName, BackendRole.Primary, router, canary.Id, store, logDir, time, logger, probe, drainTimeout);
        _canary = new InstanceSet(_key, canary.TargetName, BackendRole.Canary, router, canary.Id, store, logDir, time, logger, probe, drainTimeout);
        _record = store.LoadPrimary(_key);
    }

    public InstanceSet Primary => _primary;
    public InstanceSet Canary => _canary;

    /// <summary>
    /// Finds the instances a previous run left behind: alive ones that still fit (same role and revision) are
    /// adopted, the others are stopped. Dead ones are forgotten.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        var target = _target();
        foreach (var record in _store.Instances(_key))
        {
            var alive = Processes.IsAlive(record.Pid, record.StartTicks);
            var fits = record.Role == "primary"
                ? _record is not null && record.Revision == _record.Revision
                : _record is { CanaryUp: true } && target is not null && record.Revision == target.Revision;
            if (alive && fits)
            {
                (record.Role == "primary" ? _primary : _canary).Adopt(record);
                continue;
            }
            if (alive)
            {
                Processes.Signal(record.Pid, Processes.SIGTERM);
            }
            _store.DeleteInstance(record.Id);
        }
        Apply(target);
        // Probe the adopted instances before the router listens again, so it never starts without endpoints.
        await _primary.ReconcileAsync(cancellationToken);
        await _canary.ReconcileAsync(cancellationToken);
        _primary.Start();
        _canary.Start();
    }

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var target = _target();
        if (target is null) return Result(Outcome.Fail(Missing(canary)));
        if (_record is null)
        {
            // Bootstrap: the primary starts as a copy of the target; the target itself is never started.
            _record = new PrimaryRecord(_key, WorkloadRevision.Serialize(target.Template), target.Revision, CanaryUp: false);
            _store.SavePrimary(_record);
        }
        _primary.Start();
        _canary.Start();
        Apply(target);
        return Result(Outcome.Ok);
    }

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var target = _target();
        if (target is null) return ValueTask.FromResult(Outcome<WorkloadState>.Fail(Missing(canary)));
        Apply(target);
        var canaryReadiness = _record is { CanaryUp: true } ? _canary.Readiness(canary.CanaryReadyThreshold) : Readiness.IsReady;
        return ValueTask.FromResult(Outcome<WorkloadState>.Ok(
            new WorkloadState(target.Revision, _primary.Readiness(canary.PrimaryReadyThreshold), canaryReadiness, PrimaryRevision: _record?.Revision)));
    }

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var target = _target();
        if (target is null || _record is null) return Result(Outcome.Fail(Missing(canary)));
        _record = _record with { CanaryUp = true };
        _store.SavePrimary(_record);
        Apply(target);
        return Result(Outcome.Ok);
    }

    public async ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        if (_record is { CanaryUp: true })
        {
            _record = _record with { CanaryUp = false };
            _store.SavePrimary(_record);
        }
        _canary.ScaleToZero();
        return await _canary.WaitEmptyAsync(_drainTimeout + TimeSpan.FromSeconds(15), cancellationToken)
            ? Outcome.Ok
            : Outcome.Fail($"{canary.TargetId} instances are still stopping");
    }

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var target = _target();
        if (target is null || _record is null) return Result(Outcome.Fail(Missing(canary)));
        if (_record.Revision != target.Revision)
        {
            // The primary rolls to the canary's template; it stays unready until every old instance is replaced.
            _record = _record with { TemplateJson = WorkloadRevision.Serialize(target.Template), Revision = target.Revision };
            _store.SavePrimary(_record);
        }
        Apply(target);
        return Result(Outcome.Ok);
    }

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        // Locally the primary keeps serving what was promoted; there is no separate target to give replicas back to.
        Result(Outcome.Ok);

    /// <summary>Stops every instance of this canary (controller shutdown or canary deleted).</summary>
    public async Task StopAllAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_canary.StopAllAsync(cancellationToken), _primary.StopAllAsync(cancellationToken));
    }

    private void Apply(WorkloadSource? target)
    {
        if (target is null || _record is null) return;
        var primaryTemplate = WorkloadRevision.Deserialize(_record.TemplateJson) ?? target.Template;
        _primary.SetDesired(new InstanceSetSpec(primaryTemplate, _record.Revision, Math.Max(1, target.Replicas), target.BaseDir));
        _canary.SetDesired(new InstanceSetSpec(target.Template, target.Revision, _record.CanaryUp ? Math.Max(1, target.Replicas) : 0, target.BaseDir));
    }

    private static string Missing(CanaryPolicy canary) =>
        $"workload {canary.TargetId} not found: declare a Workload (aviary.dev/v1alpha1) named {canary.TargetName} in namespace {canary.Namespace}";

    private static ValueTask<Outcome> Result(Outcome outcome) => ValueTask.FromResult(outcome);

    public async ValueTask DisposeAsync()
    {
        await _primary.DisposeAsync();
        await _canary.DisposeAsync();
    }
}

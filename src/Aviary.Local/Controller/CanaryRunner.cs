using Aviary.Core.Primitives;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Controller;

/// <summary>What one tick of one canary did, for live views and logs.</summary>
public sealed record CanaryUpdate(CanaryPolicy Policy, TickOutcome Outcome, DateTimeOffset Time);

/// <summary>
/// The loop of one canary: a tick at every analysis interval (fixed rate, skipping slots a slow tick overran),
/// each persisted in one transaction before the next starts.
/// </summary>
internal sealed partial class CanaryRunner : IAsyncDisposable
{
    private readonly StateStore _store;
    private readonly CanaryScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<CanaryUpdate> _publish;
    private readonly CancellationTokenSource _stop = new();
    private readonly Wakeup _wake;

    // Whether the last tick left the canary under analysis: only then does the judge look between ticks.
    private volatile bool _analysing;
    private Task? _loop;

    public CanaryRunner(CanaryPolicy policy, LocalWorkload workload, IRouter router, SchedulerServices services, StateStore store,
        TimeProvider time, ILogger logger, Action<CanaryUpdate> publish)
    {
        Policy = policy;
        Workload = workload;
        Router = router;
        _store = store;
        _scheduler = new CanaryScheduler(services);
        _time = time;
        _logger = logger;
        _publish = publish;
        _wake = new Wakeup(time);
    }

    /// <summary>The canary's current spec; replaced when its manifest changes.</summary>
    public CanaryPolicy Policy { get; set; }

    public LocalWorkload Workload { get; }

    public IRouter Router { get; }

    public void Start() => _loop = Task.Run(async () =>
    {
        await Workload.RecoverAsync(_stop.Token);
        await LoopAsync(_stop.Token);
    });

    /// <summary>Runs the next tick now instead of at the next interval.</summary>
    public void Poke() => _wake.Wake();

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var next = _time.GetUtcNow();
        while (!cancellationToken.IsCancellationRequested)
        {
            await TickOnceAsync(cancellationToken);
            var interval = Policy.Interval;
            next += interval;
            var now = _time.GetUtcNow();
            if (next < now) next = now + interval - TimeSpan.FromTicks((now - next).Ticks % interval.Ticks);
            try
            {
                // With analysis.judge.lookInterval the judge also looks between ticks (a look only ever rolls back).
                var woken = false;
                while (!woken && _analysing && Policy.Judge?.LookInterval is { } look && look < next - now)
                {
                    woken = await _wake.WaitAsync(look, cancellationToken);
                    if (!woken) await LookOnceAsync(cancellationToken);
                    now = _time.GetUtcNow();
                }
                if (!woken && next > now) await _wake.WaitAsync(next - now, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task LookOnceAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken, look: true);

    private Task TickOnceAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken, look: false);

    private async Task RunAsync(CancellationToken cancellationToken, bool look)
    {
        var policy = Policy;
        try
        {
            if (look)
            {
                if (_store.IsPaused(policy.Id)) return;
                var current = _store.LoadStatus(policy.Id);
                if (current is null) return;
                var seen = await _scheduler.LookAsync(policy, current, cancellationToken);
                if (seen.Events.Count == 0 && seen.Checks.Count == 0) return; // nothing decided: nothing to write
                Save(policy, seen);
                return;
            }
            var action = _store.PendingAction(policy.Id);
            if (action is { Kind: ManualActionKind.Pause or ManualActionKind.Resume })
            {
                _store.ApplyPause(policy.Id, action, _time.GetUtcNow());
                action = null;
            }
            // Paused is suspend by another name: the tick does nothing until resumed.
            if (_store.IsPaused(policy.Id)) policy = policy with { Suspend = true };
            var status = _store.LoadStatus(policy.Id) ?? CanaryStatus.Empty;
            Save(policy, await _scheduler.TickAsync(policy, status, action, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug or an unexpected environment failure: record it and try again next tick.
            LogTickFailed(_logger, policy.Id, e);
            _store.AddEvent(policy.Id, _time.GetUtcNow(), EventType.Warning, $"internal error during analysis of {policy.Id}: {e.Message}");
        }
    }

    private void Save(CanaryPolicy policy, TickOutcome outcome)
    {
        _analysing = outcome.Status.Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion;
        var now = _time.GetUtcNow();
        _store.SaveTick(policy.Id, policy.Namespace, policy.Name, outcome, now);
        foreach (var e in outcome.Events) LogEvent(_logger, policy.Id, e.Type.ToString(), e.Message);
        _publish(new CanaryUpdate(policy, outcome, now));
    }

    public async Task StopAsync(bool stopInstances)
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (stopInstances) await Workload.StopAllAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(stopInstances: false);
        await Workload.DisposeAsync();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "{Canary} {Type}: {Message}")]
    private static partial void LogEvent(ILogger logger, string canary, string type, string message);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "tick of {Canary} failed")]
    private static partial void LogTickFailed(ILogger logger, string canary, Exception exception);
}

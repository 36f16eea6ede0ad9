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
/// One canary of the embedded runtime: the port of its <see cref="CanaryLoop"/> (the loop is Core's, the same as the
/// operator's) over the SQLite store, where each tick is persisted in one transaction before the next starts.
/// </summary>
internal sealed partial class CanaryRunner : ICanaryLoopPort, IAsyncDisposable
{
    private readonly StateStore _store;
    private readonly CanaryScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<CanaryUpdate> _publish;
    private readonly CancellationTokenSource _stop = new();
    private readonly CanaryLoop _loop;
    private Task? _running;

    public CanaryRunner(CanaryPolicy policy, LocalCanary canary, StateStore store, TimeProvider time, ILogger logger, Action<CanaryUpdate> publish)
    {
        Policy = policy;
        Workload = canary.Workload;
        Router = canary.Router;
        _store = store;
        _scheduler = new CanaryScheduler(canary.Services);
        _time = time;
        _logger = logger;
        _publish = publish;
        _loop = new CanaryLoop(this, time);
    }

    /// <summary>The canary's current spec; replaced when its manifest changes.</summary>
    public CanaryPolicy Policy { get; set; }

    public LocalWorkload Workload { get; }

    public IRouter Router { get; }

    public void Start() => _running = Task.Run(async () =>
    {
        await Workload.RecoverAsync(_stop.Token);
        await _loop.RunAsync(_stop.Token);
    });

    /// <summary>Runs the next tick now instead of at the next interval.</summary>
    public void Poke() => _loop.Wake();

    bool ICanaryLoopPort.MayAct => true;

    Task<CanaryRead> ICanaryLoopPort.ReadAsync(CancellationToken cancellationToken)
    {
        var policy = Policy;
        CanaryRead read = new CanaryRead.Ready(policy, _store.LoadStatus(policy.Id) ?? CanaryStatus.Empty)
        {
            Action = _store.PendingAction(policy.Id),
            Paused = _store.IsPaused(policy.Id),
        };
        return Task.FromResult(read);
    }

    CanaryScheduler ICanaryLoopPort.SchedulerFor(CanaryPolicy policy) => _scheduler;

    Task ICanaryLoopPort.ApplyPauseAsync(CanaryRead.Ready read, ManualAction action, CancellationToken cancellationToken)
    {
        _store.ApplyPause(read.Policy.Id, action, _time.GetUtcNow());
        return Task.CompletedTask;
    }

    Task ICanaryLoopPort.SaveAsync(CanaryRead.Ready read, TickOutcome outcome, CancellationToken cancellationToken)
    {
        var policy = read.Policy;
        var now = _time.GetUtcNow();
        _store.SaveTick(policy.Id, policy.Namespace, policy.Name, outcome, now);
        foreach (var e in outcome.Events) LogEvent(_logger, policy.Id, e.Type.ToString(), e.Message);
        _publish(new CanaryUpdate(policy, outcome, now));
        return Task.CompletedTask;
    }

    Task ICanaryLoopPort.TickFailedAsync(CanaryRead.Ready? read, Exception error, CancellationToken cancellationToken)
    {
        // A bug or an unexpected environment failure: record it; the loop tries again next tick.
        var id = (read?.Policy ?? Policy).Id;
        LogTickFailed(_logger, id, error);
        _store.AddEvent(id, _time.GetUtcNow(), EventType.Warning, $"internal error during analysis of {id}: {error.Message}");
        return Task.CompletedTask;
    }

    public async Task StopAsync(bool stopInstances)
    {
        await _stop.CancelAsync();
        if (_running is not null) await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

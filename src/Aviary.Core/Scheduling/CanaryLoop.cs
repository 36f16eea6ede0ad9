using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Scheduling;

/// <summary>What a runtime read of one canary before a tick or a look (<see cref="ICanaryLoopPort.ReadAsync"/>).</summary>
public abstract record CanaryRead
{
    private CanaryRead() { }

    /// <summary>The canary is gone (or needs nothing more from this loop): the loop ends.</summary>
    public sealed record Gone : CanaryRead;

    /// <summary>Nothing to tick now (an invalid spec, an unreachable store): read again after <paramref name="Retry"/>.</summary>
    public sealed record NotNow(TimeSpan Retry) : CanaryRead;

    /// <summary>A canary to tick, with what its runtime holds for it.</summary>
    /// <param name="Policy">The compiled spec.</param>
    /// <param name="Status">The last status saved.</param>
    public sealed record Ready(CanaryPolicy Policy, CanaryStatus Status) : CanaryRead
    {
        /// <summary>A manual action waiting to be taken (promote, abort, retry, pause, resume); null: none.</summary>
        public ManualAction? Action { get; init; }

        /// <summary>Paused by a person (<c>pause</c>) until resumed: the tick runs as with <c>suspend</c>.</summary>
        public bool Paused { get; init; }

        /// <summary>Being deleted with <c>revertOnDeletion</c>: the tick is the finalizer (<see cref="CanaryScheduler.FinalizeAsync"/>).</summary>
        public bool Deleting { get; init; }
    }
}

/// <summary>What one pass of the loop decided about the next one.</summary>
/// <param name="Stop">The loop ends (the canary is gone or finalized).</param>
/// <param name="Interval">With <paramref name="FromNow"/> false: the analysis interval, kept at a fixed rate.</param>
/// <param name="FromNow">The wait starts now (a retry, a replica that does not lead) instead of at the last slot.</param>
public readonly record struct LoopStep(bool Stop, TimeSpan Interval, bool FromNow)
{
    /// <summary>No rollout under way: nothing changes until something the canary reads does (a runtime may park it).</summary>
    public bool Idle { get; init; }

    public static LoopStep Ended => new(true, TimeSpan.Zero, false);

    public static LoopStep Every(TimeSpan interval) => new(false, interval, false);

    public static LoopStep After(TimeSpan wait) => new(false, wait, true);
}

/// <summary>
/// What a runtime gives <see cref="CanaryLoop"/>: persistence and wiring only. The embedded runtime reads and writes its
/// SQLite store; the operator reads the Canary from the API server and writes its status subresource, Events,
/// annotations and finalizer.
/// </summary>
public interface ICanaryLoopPort
{
    /// <summary>
    /// Whether this process may act on the canary now (an operator replica that does not lead may not). Checked before
    /// each tick and look, and while a tick runs: the tick is cancelled as soon as it turns false.
    /// </summary>
    bool MayAct { get; }

    /// <summary>The canary as it is now, read fresh before every tick and look.</summary>
    Task<CanaryRead> ReadAsync(CancellationToken cancellationToken);

    /// <summary>The scheduler of <paramref name="policy"/>: its workload, router, metrics, hooks and alerts.</summary>
    CanaryScheduler SchedulerFor(CanaryPolicy policy);

    /// <summary>Makes a pause or a resume take effect (later reads say <see cref="CanaryRead.Ready.Paused"/> accordingly) and announces it.</summary>
    Task ApplyPauseAsync(CanaryRead.Ready read, ManualAction action, CancellationToken cancellationToken);

    /// <summary>Stores what a tick, a look or the finalizer did (status, events, checks, the action it took), as one write where the store allows.</summary>
    Task SaveAsync(CanaryRead.Ready read, TickOutcome outcome, CancellationToken cancellationToken);

    /// <summary>A tick or a look threw (a bug, an unexpected failure of the environment): record it. The loop goes on.</summary>
    Task TickFailedAsync(CanaryRead.Ready? read, Exception error, CancellationToken cancellationToken);
}

/// <summary>
/// The loop of one canary, the same for every runtime: a tick at every analysis interval at a fixed rate (a slow tick
/// does not move later ones; the slots it overran are skipped), a wake-up (<see cref="Wake"/>: a manual action, a
/// deletion) runs an extra tick at once without moving the slots, and while the canary is under analysis with
/// <c>analysis.judge.lookInterval</c> the judge also looks between ticks (a look only ever rolls back). Pause and resume
/// take effect before the tick that reads them; a paused canary ticks as suspended.
/// <para>
/// The loop is a state machine driven by <see cref="StepAsync"/>, which does what is due and says when to call it
/// next: the embedded runtime calls it from <see cref="RunAsync"/>, the operator from its shared work queue. With
/// <paramref name="idleResync"/> set, a canary with no rollout under way (Initialized, Succeeded, Failed; not paused) is
/// parked: its next step is only after that period or a <see cref="Wake"/> (its runtime wakes it when something it
/// read changes), and the tick after parking starts a new series of slots.
/// </para>
/// </summary>
public sealed class CanaryLoop(ICanaryLoopPort port, TimeProvider time, TimeSpan? idleResync = null)
{
    /// <summary>How long a replica that may not act waits before asking again, and how often a tick checks it still may.</summary>
    public static readonly TimeSpan ActingPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>The wait after a tick that threw before the canary's interval is known.</summary>
    public static readonly TimeSpan FailureRetry = TimeSpan.FromSeconds(5);

    private readonly Wakeup _wake = new(time);
    private TimeSpan? _lookInterval;
    private DateTimeOffset? _slot;
    private DateTimeOffset? _lookAt;
    private int _woken;

    /// <summary>Runs an extra tick now (the regular slots stay where they are); a parked canary starts ticking again.</summary>
    public void Wake()
    {
        Interlocked.Exchange(ref _woken, 1);
        _wake.Wake();
    }

    /// <summary>True while the canary has no rollout under way and waits for a wake-up (only with an idle resync period).</summary>
    public bool Parked { get; private set; }

    /// <summary>Runs until the canary is gone or <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (await StepAsync(cancellationToken).ConfigureAwait(false) is not { } next) return;
            try
            {
                await _wake.WaitAsync(next - time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Does what is due now (a tick at its slot or on a wake-up, else a look of the judge when one is due, else nothing)
    /// and returns when to step again; null when the loop has ended (the canary is gone or finalized).
    /// </summary>
    public async Task<DateTimeOffset?> StepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var woken = Interlocked.Exchange(ref _woken, 0) == 1;
        if (Parked || _slot is null) _slot = now;
        var due = _slot <= now;
        if (!due && !woken)
        {
            if (_lookAt is { } look && look <= now) await LookAsync(cancellationToken).ConfigureAwait(false);
            return Next();
        }
        var step = await TickAsync(cancellationToken).ConfigureAwait(false);
        if (step.Stop) return null;
        now = time.GetUtcNow();
        Parked = step.Idle && idleResync is not null;
        if (Parked) _slot = now + idleResync!.Value;
        else if (step.FromNow) _slot = now + step.Interval;
        else if (due || _slot < now) _slot = NextSlot(_slot!.Value, step.Interval, now);
        return Next();
    }

    /// <summary>The next slot, or the next look when the judge looks before it.</summary>
    private DateTimeOffset Next()
    {
        var now = time.GetUtcNow();
        _lookAt = _lookInterval is { } look && now + look < _slot ? now + look : null;
        return _lookAt ?? _slot!.Value;
    }

    /// <summary>
    /// The first slot after <paramref name="last"/> that is not in the past: <c>last + interval</c>, or when the tick overran
    /// it, the next slot of the same rate.
    /// </summary>
    public static DateTimeOffset NextSlot(DateTimeOffset last, TimeSpan interval, DateTimeOffset now)
    {
        var next = last + interval;
        if (next >= now) return next;
        var behind = (now - next).Ticks;
        return next + TimeSpan.FromTicks((behind + interval.Ticks - 1) / interval.Ticks * interval.Ticks);
    }

    /// <summary>One tick: read, take a pause or resume, tick (or finalize), save. Returns when the next one is due.</summary>
    public async Task<LoopStep> TickAsync(CancellationToken cancellationToken)
    {
        if (!port.MayAct) return LoopStep.After(ActingPoll);
        using var term = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tick = TickCoreAsync(term.Token);
        while (!tick.IsCompleted)
        {
            await Task.WhenAny(tick, Task.Delay(ActingPoll, time, term.Token)).ConfigureAwait(false);
            if (tick.IsCompleted || port.MayAct) continue;
            // Another process may act from now on; this tick's side effects are idempotent, it will repeat them.
            await term.CancelAsync().ConfigureAwait(false);
            break;
        }
        try
        {
            return await tick.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return LoopStep.After(ActingPoll);
        }
    }

    private async Task<LoopStep> TickCoreAsync(CancellationToken cancellationToken)
    {
        CanaryRead.Ready? ready = null;
        try
        {
            var read = await port.ReadAsync(cancellationToken).ConfigureAwait(false);
            switch (read)
            {
                case CanaryRead.Gone:
                    return LoopStep.Ended;
                case CanaryRead.NotNow notNow:
                    _lookInterval = null;
                    return LoopStep.After(notNow.Retry);
            }
            ready = (CanaryRead.Ready)read;
            var policy = ready.Policy;
            var scheduler = port.SchedulerFor(policy);
            if (ready.Deleting)
            {
                var final = await scheduler.FinalizeAsync(policy, ready.Status, cancellationToken).ConfigureAwait(false);
                await SaveAsync(ready, final, cancellationToken).ConfigureAwait(false);
                return final.Status.Phase == CanaryPhase.Terminated ? LoopStep.Ended : LoopStep.Every(policy.Interval);
            }
            var action = ready.Action;
            var paused = ready.Paused;
            if (action is { Kind: ManualActionKind.Pause or ManualActionKind.Resume })
            {
                await port.ApplyPauseAsync(ready, action, cancellationToken).ConfigureAwait(false);
                paused = action.Kind == ManualActionKind.Pause;
                action = null;
            }
            if (paused) policy = policy with { Suspend = true };
            var outcome = await scheduler.TickAsync(policy, ready.Status, action, cancellationToken).ConfigureAwait(false);
            await SaveAsync(ready with { Policy = policy }, outcome, cancellationToken).ConfigureAwait(false);
            // Paused canaries keep ticking (as suspended ones do): only a canary at rest is idle.
            var idle = !paused && ready.Action is null && outcome.Status.Phase is CanaryPhase.Initialized or CanaryPhase.Succeeded or CanaryPhase.Failed;
            return LoopStep.Every(policy.Interval) with { Idle = idle };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await port.TickFailedAsync(ready, e, cancellationToken).ConfigureAwait(false);
            return ready is null ? LoopStep.After(FailureRetry) : LoopStep.Every(ready.Policy.Interval);
        }
    }

    /// <summary>A look of the judge between ticks: it saves only when the look decided something (a rollback).</summary>
    private async Task LookAsync(CancellationToken cancellationToken)
    {
        if (!port.MayAct) return;
        CanaryRead.Ready? ready = null;
        try
        {
            // Pending actions, pauses and deletions are the next tick's.
            if (await port.ReadAsync(cancellationToken).ConfigureAwait(false) is not CanaryRead.Ready { Deleting: false, Paused: false, Action: null } read) return;
            ready = read;
            var seen = await port.SchedulerFor(read.Policy).LookAsync(read.Policy, read.Status, cancellationToken).ConfigureAwait(false);
            if (seen.Events.Count == 0 && seen.Checks.Count == 0) return;
            await SaveAsync(read, seen, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await port.TickFailedAsync(ready, e, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SaveAsync(CanaryRead.Ready read, TickOutcome outcome, CancellationToken cancellationToken)
    {
        await port.SaveAsync(read, outcome, cancellationToken).ConfigureAwait(false);
        _lookInterval = outcome.Status.Phase is CanaryPhase.Progressing or CanaryPhase.WaitingPromotion ? read.Policy.Judge?.LookInterval : null;
    }
}

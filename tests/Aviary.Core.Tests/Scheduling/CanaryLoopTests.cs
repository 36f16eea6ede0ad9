using System.Collections.Concurrent;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Core.Tests.Scheduling;

/// <summary>
/// The canary loop both runtimes share, on a fake clock: its cadence (fixed rate), wake-ups, pause and resume, and what
/// it reads and saves through its port.
/// </summary>
public sealed class CanaryLoopTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(3, 20)]  // a slow tick: the third still comes 10 s after the second began, not 10 s after it ended
    [InlineData(25, 40)] // the tick of 10 s ran until 35 s: the slots of 20 s and 30 s are gone, the next is 40 s
    public async Task Run_SlowTick_LaterTicksKeepTheirSlots(int tickSeconds, int nextSlot)
    {
        await using var t = Loop.Start();
        await t.WaitingUntilAsync(10);
        t.Port.SlowRead = TimeSpan.FromSeconds(tickSeconds);
        t.Clock.Advance(Interval);
        await t.WaitingUntilAsync(nextSlot);
        t.Clock.Advance(t.Began.AddSeconds(nextSlot) - t.Clock.GetUtcNow());
        await t.TicksAsync(3);

        Assert.Equal([0, 10, nextSlot], t.Port.TickTimes(t.Began));
    }

    [Fact]
    public async Task Run_Woken_ExtraTickNowAndTheSlotsStay()
    {
        await using var t = Loop.Start();
        await t.WaitingUntilAsync(10);
        t.Clock.Advance(TimeSpan.FromSeconds(4));
        t.Canary.Wake();
        await t.TicksAsync(2);
        // After the extra tick at 4 s, the loop waits for the slot of 10 s again.
        await t.WaitingUntilAsync(10, waits: 2);
        t.Clock.Advance(TimeSpan.FromSeconds(6));
        await t.TicksAsync(3);

        Assert.Equal([0, 4, 10], t.Port.TickTimes(t.Began));
    }

    [Fact]
    public async Task Tick_PauseThenResume_TakeEffectBeforeTheTickAndItRunsSuspended()
    {
        var port = new RecordingPort(new FakeTimeProvider()) { Action = new ManualAction(ManualActionKind.Pause, "ops", DateTimeOffset.UnixEpoch) };
        var loop = new CanaryLoop(port, port.Clock);

        // A paused canary keeps ticking at its interval (as a suspended one), it is not idle.
        Assert.Equal(LoopStep.Every(Interval), await loop.TickAsync(CancellationToken.None));
        Assert.Equal([ManualActionKind.Pause], port.PausesApplied);
        Assert.True(port.Saved.Single().Suspended);

        port.Action = new ManualAction(ManualActionKind.Resume, "ops", DateTimeOffset.UnixEpoch);
        await loop.TickAsync(CancellationToken.None);
        Assert.Equal([ManualActionKind.Pause, ManualActionKind.Resume], port.PausesApplied);
        Assert.False(port.Saved[1].Suspended);
    }

    [Fact]
    public async Task Step_IdleWithResync_ParksUntilTheResyncOrAWakeThenStartsNewSlots()
    {
        var port = new RecordingPort(new FakeTimeProvider());
        var loop = new CanaryLoop(port, port.Clock, idleResync: TimeSpan.FromMinutes(5));
        var start = port.Clock.GetUtcNow();

        // Initialized, no rollout under way: idle, so the next step is the resync, not the interval.
        Assert.Equal(start.AddMinutes(5), await loop.StepAsync(CancellationToken.None));
        Assert.Equal(CanaryPhase.Initialized, port.Status.Phase);
        Assert.True(loop.Parked);

        // Stepped early without a wake-up (something it read changed): a parked loop ticks at once, and stays parked.
        port.Clock.Advance(TimeSpan.FromSeconds(7));
        Assert.Equal(start.AddSeconds(7).AddMinutes(5), await loop.StepAsync(CancellationToken.None));
        Assert.Equal(2, port.Reads.Count);

        // Not idle any more (here: not readable now): the loop leaves the park and waits as the tick says.
        port.Next = new CanaryRead.NotNow(TimeSpan.FromSeconds(5));
        port.Clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(start.AddSeconds(15), await loop.StepAsync(CancellationToken.None));
        Assert.False(loop.Parked);

        // Stepped before its time without a wake-up: nothing happens, the time stays.
        port.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(start.AddSeconds(15), await loop.StepAsync(CancellationToken.None));
        Assert.Equal(3, port.Reads.Count);
    }

    [Fact]
    public async Task Step_WithoutResync_NeverParks()
    {
        var port = new RecordingPort(new FakeTimeProvider());
        var loop = new CanaryLoop(port, port.Clock);
        Assert.Equal(port.Clock.GetUtcNow() + Interval, await loop.StepAsync(CancellationToken.None));
        Assert.Equal(CanaryPhase.Initialized, port.Status.Phase);
        Assert.False(loop.Parked);
    }

    [Fact]
    public async Task Tick_Gone_Ends_NotNow_RetriesFromNow()
    {
        var port = new RecordingPort(new FakeTimeProvider());
        var loop = new CanaryLoop(port, port.Clock);

        port.Next = new CanaryRead.NotNow(TimeSpan.FromSeconds(30));
        Assert.Equal(LoopStep.After(TimeSpan.FromSeconds(30)), await loop.TickAsync(CancellationToken.None));
        port.Next = new CanaryRead.Gone();
        Assert.True((await loop.TickAsync(CancellationToken.None)).Stop);
        Assert.Empty(port.Saved);
    }

    [Fact]
    public async Task Tick_MayNotAct_NothingReadNorSaved()
    {
        var port = new RecordingPort(new FakeTimeProvider()) { MayAct = false };
        var step = await new CanaryLoop(port, port.Clock).TickAsync(CancellationToken.None);

        Assert.Equal(LoopStep.After(CanaryLoop.ActingPoll), step);
        Assert.Empty(port.Reads);
    }

    [Fact]
    public async Task Tick_SaveThrows_ReportedAndTheCadenceGoesOn()
    {
        var port = new RecordingPort(new FakeTimeProvider()) { Throw = new InvalidOperationException("boom") };
        var step = await new CanaryLoop(port, port.Clock).TickAsync(CancellationToken.None);

        Assert.Equal(LoopStep.Every(Interval), step);
        Assert.Equal("boom", Assert.Single(port.Failures).Message);
    }

    [Theory]
    [InlineData(0, 10, 10)]   // on time
    [InlineData(0, 3, 10)]    // a quick tick
    [InlineData(0, 10.5, 20)] // overran its slot by half a second
    [InlineData(0, 35, 40)]   // overran three slots
    [InlineData(0, 40, 40)]   // ended exactly on a slot: that slot
    public void NextSlot_IsTheFirstSlotOfTheRateNotInThePast(double last, double now, double expected)
    {
        var epoch = DateTimeOffset.UnixEpoch;
        var next = CanaryLoop.NextSlot(epoch.AddSeconds(last), Interval, epoch.AddSeconds(now));
        Assert.Equal(expected, (next - epoch).TotalSeconds);
    }

    /// <summary>A running loop over a <see cref="RecordingPort"/>.</summary>
    private sealed class Loop : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _running;

        private Loop()
        {
            Port = new RecordingPort(Clock);
            Canary = new CanaryLoop(Port, Clock);
            Began = Clock.GetUtcNow();
            _running = Task.Run(() => Canary.RunAsync(_stop.Token));
        }

        public WatchedClock Clock { get; } = new();
        public RecordingPort Port { get; }
        public CanaryLoop Canary { get; }
        public DateTimeOffset Began { get; }

        public static Loop Start() => new();

        /// <summary>
        /// Until the loop waits on the clock for <paramref name="second"/> (from its start), so that advancing the clock
        /// reaches it; <paramref name="waits"/>: the how-manyth wait for that time.
        /// </summary>
        public Task WaitingUntilAsync(double second, int waits = 1) =>
            Eventually.True(() => Clock.Timers.Count(t => t.At + t.Due == Began.AddSeconds(second)) >= waits,
                describe: () => string.Join(", ", Clock.Timers.Select(t => $"at {(t.At - Began).TotalSeconds}s for {t.Due.TotalSeconds}s")));

        public Task TicksAsync(int count) =>
            Eventually.True(() => Port.Saved.Count >= count, describe: () => string.Join(", ", Port.TickTimes(Began)));

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _running;
        }
    }

    /// <summary>A fake clock that records every timer it is asked for (when, and due after how long).</summary>
    private sealed class WatchedClock : FakeTimeProvider
    {
        public ConcurrentBag<(DateTimeOffset At, TimeSpan Due)> Timers { get; } = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Timers.Add((GetUtcNow(), dueTime));
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>A port that holds one canary in memory and records what the loop asked of it.</summary>
    private sealed class RecordingPort(FakeTimeProvider clock) : ICanaryLoopPort
    {
        private readonly CanaryScheduler _scheduler = new(new SchedulerServices(
            new FakeWorkload(clock), new FakeRouter(), new FakeMetrics(), new FakeWebhooks(), new FakeNotifier(), clock));

        public FakeTimeProvider Clock => clock;
        public CanaryPolicy Policy { get; } = SchedulerHarness.Compile(SchedulerHarness.Canary("interval: 10s\nthreshold: 2\nstepWeight: 10\nmaxWeight: 50"));
        public CanaryStatus Status { get; private set; } = CanaryStatus.Empty;
        public bool MayAct { get; set; } = true;
        public ManualAction? Action { get; set; }
        public bool Paused { get; private set; }
        public CanaryRead? Next { get; set; }
        public Exception? Throw { get; set; }

        /// <summary>How long the next read takes (the clock moves by it during the read).</summary>
        public TimeSpan SlowRead { get; set; }

        public ConcurrentQueue<DateTimeOffset> Reads { get; } = [];
        public List<(TickOutcome Outcome, bool Suspended)> Saved { get; } = [];
        public List<ManualActionKind> PausesApplied { get; } = [];
        public List<Exception> Failures { get; } = [];

        /// <summary>When each tick began (read the canary), in seconds from <paramref name="start"/>.</summary>
        public double[] TickTimes(DateTimeOffset start) => [.. Reads.Select(r => (r - start).TotalSeconds)];

        public Task<CanaryRead> ReadAsync(CancellationToken cancellationToken)
        {
            Reads.Enqueue(clock.GetUtcNow());
            if (SlowRead > TimeSpan.Zero)
            {
                clock.Advance(SlowRead);
                SlowRead = TimeSpan.Zero;
            }
            CanaryRead read = Next ?? new CanaryRead.Ready(Policy, Status) { Action = Action, Paused = Paused };
            return Task.FromResult(read);
        }

        public CanaryScheduler SchedulerFor(CanaryPolicy policy) => _scheduler;

        public Task ApplyPauseAsync(CanaryRead.Ready read, ManualAction action, CancellationToken cancellationToken)
        {
            PausesApplied.Add(action.Kind);
            Paused = action.Kind == ManualActionKind.Pause;
            Action = null;
            return Task.CompletedTask;
        }

        public Task SaveAsync(CanaryRead.Ready read, TickOutcome outcome, CancellationToken cancellationToken)
        {
            if (Throw is { } e) throw e;
            Status = outcome.Status;
            lock (Saved) Saved.Add((outcome, read.Policy.Suspend));
            return Task.CompletedTask;
        }

        public Task TickFailedAsync(CanaryRead.Ready? read, Exception error, CancellationToken cancellationToken)
        {
            Failures.Add(error);
            return Task.CompletedTask;
        }
    }
}

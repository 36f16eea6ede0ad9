namespace Aviary.Kubernetes.Tests.Client;

/// <summary>A clock that moves only when told to, with timers (so Task.Delay on it completes when time is advanced).</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;
    private long _ticks;

    public ManualTime()
        : this(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp()
    {
        lock (_gate) return _ticks;
    }

    public void Advance(TimeSpan by)
    {
        List<ManualTimer> due;
        lock (_gate)
        {
            _now += by;
            _ticks += by.Ticks;
            due = [.. _timers.Where(t => t.DueAt <= _ticks)];
            foreach (var t in due) _timers.Remove(t);
        }
        foreach (var timer in due) timer.Fire();
    }

    /// <summary>Timers waiting to fire.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate) return _timers.Count;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ManualTimer(ManualTime owner, TimerCallback callback, object? state) : ITimer
    {
        public long DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                DueAt = owner._ticks + dueTime.Ticks;
                owner._timers.Add(this);
            }
            if (dueTime == TimeSpan.Zero) owner.Advance(TimeSpan.Zero);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._gate) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

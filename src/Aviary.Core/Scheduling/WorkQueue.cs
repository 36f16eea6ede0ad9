using System.Threading.Channels;
using Aviary.Core.Observability;
using Aviary.Core.Primitives;

namespace Aviary.Core.Scheduling;

/// <summary>
/// A shared work queue keyed by name, like client-go's rate-limited delaying queue: a key is due now or at a time
/// (one timer for the whole queue, from the <see cref="TimeProvider"/>), is queued at most once however often it is
/// added, is worked on by at most one of a bounded pool of workers at a time (adding it meanwhile re-queues it after),
/// and backs off exponentially, per key, while its work throws. The work returns when the key is next due, or null
/// when it is done. Records depth, work duration and lag (start minus due time).
/// </summary>
public sealed class WorkQueue<TKey> : IAsyncDisposable
    where TKey : notnull
{
    private readonly Func<TKey, CancellationToken, Task<DateTimeOffset?>> _work;
    private readonly TimeProvider _time;
    private readonly Backoff _backoff;
    private readonly Lock _gate = new();
    private readonly Dictionary<TKey, Entry> _entries;
    private readonly PriorityQueue<TKey, DateTimeOffset> _waiting = new();
    private readonly Channel<TKey> _ready = Channel.CreateUnbounded<TKey>(new UnboundedChannelOptions { SingleReader = false });
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _timer;
    private readonly Task[] _workers;
    private DateTimeOffset? _armedFor;
    private int _readyCount;

    /// <param name="work">Works on one key; returns when it is next due (null: done). Throwing backs it off.</param>
    /// <param name="workers">How many keys are worked on at once.</param>
    /// <param name="workDuration">Where to record how long work takes (shared across queues); a new one when null.</param>
    /// <param name="lag">Where to record how late work starts; a new one when null.</param>
    public WorkQueue(Func<TKey, CancellationToken, Task<DateTimeOffset?>> work, int workers, TimeProvider time, Backoff? backoff = null,
        IEqualityComparer<TKey>? comparer = null, Histogram? workDuration = null, Histogram? lag = null)
    {
        WorkDuration = workDuration ?? new Histogram(Histogram.SecondsBuckets);
        Lag = lag ?? new Histogram(Histogram.SecondsBuckets);
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _work = work;
        _time = time;
        _backoff = backoff ?? new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(5), 2, 0.1);
        _entries = new Dictionary<TKey, Entry>(comparer);
        _timer = time.CreateTimer(_ => Promote(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _workers = [.. Enumerable.Range(0, workers).Select(_ => Task.Run(WorkAsync))];
        Workers = workers;
    }

    public int Workers { get; }

    /// <summary>Keys ready and waiting for a worker.</summary>
    public int Depth => Volatile.Read(ref _readyCount);

    /// <summary>Keys known to the queue: ready, being worked on, or waiting for their time.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _entries.Count;
        }
    }

    /// <summary>Keys waiting for their time (not ready, not being worked on).</summary>
    public int Scheduled
    {
        get
        {
            lock (_gate) return _entries.Values.Count(e => e is { Due: not null, Queued: false, Processing: false });
        }
    }

    /// <summary>How long each piece of work took.</summary>
    public Histogram WorkDuration { get; }

    /// <summary>How late each piece of work started after the time it was due.</summary>
    public Histogram Lag { get; }

    /// <summary>Work that threw and was backed off.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    private long _retries;

    /// <summary>Makes <paramref name="key"/> due now.</summary>
    public void Add(TKey key) => AddAt(key, _time.GetUtcNow());

    /// <summary>Makes <paramref name="key"/> due at <paramref name="due"/>, or earlier if it already is.</summary>
    public void AddAt(TKey key, DateTimeOffset due)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry)) _entries[key] = entry = new Entry();
            entry.Removed = false;
            if (entry.Processing)
            {
                entry.Pending = entry.Pending is { } p && p <= due ? p : due;
                return;
            }
            if (entry.Queued) return;
            if (entry.Due is { } d && d <= due) return;
            entry.Due = due;
            Schedule(key, entry, due);
        }
    }

    /// <summary>Forgets <paramref name="key"/>: it is not worked on again unless added again.</summary>
    public void Remove(TKey key)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry)) return;
            if (entry.Processing || entry.Queued)
            {
                entry.Removed = true;
                entry.Pending = null;
                return;
            }
            _entries.Remove(key);
        }
    }

    // Under the lock.
    private void Schedule(TKey key, Entry entry, DateTimeOffset due)
    {
        if (due <= _time.GetUtcNow())
        {
            entry.Queued = true;
            Interlocked.Increment(ref _readyCount);
            _ready.Writer.TryWrite(key);
            return;
        }
        _waiting.Enqueue(key, due);
        if (_armedFor is null || due < _armedFor) Arm(due);
    }

    private void Arm(DateTimeOffset due)
    {
        _armedFor = due;
        var wait = due - _time.GetUtcNow();
        _timer.Change(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The timer fired: every key whose time has come becomes ready.</summary>
    private void Promote()
    {
        lock (_gate)
        {
            _armedFor = null;
            var now = _time.GetUtcNow();
            while (_waiting.TryPeek(out var key, out var due))
            {
                if (due > now)
                {
                    Arm(due);
                    return;
                }
                _waiting.Dequeue();
                // A key added earlier since, worked on, or removed left this entry behind: skip it.
                if (!_entries.TryGetValue(key, out var entry) || entry.Due != due || entry.Queued || entry.Processing) continue;
                entry.Queued = true;
                Interlocked.Increment(ref _readyCount);
                _ready.Writer.TryWrite(key);
            }
        }
    }

    private async Task WorkAsync()
    {
        var reader = _ready.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var key)) await WorkOnAsync(key).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task WorkOnAsync(TKey key)
    {
        Interlocked.Decrement(ref _readyCount);
        DateTimeOffset due;
        Entry entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out entry!) || !entry.Queued) return;
            entry.Queued = false;
            if (entry.Removed)
            {
                _entries.Remove(key);
                return;
            }
            entry.Processing = true;
            due = entry.Due ?? _time.GetUtcNow();
            entry.Due = null;
        }
        var started = _time.GetTimestamp();
        Lag.Observe(_time.GetUtcNow() - due);
        DateTimeOffset? next;
        try
        {
            next = await _work(key, _stop.Token).ConfigureAwait(false);
            entry.Failures = 0;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _retries);
            next = _time.GetUtcNow() + _backoff.Delay(++entry.Failures, Random.Shared);
        }
        WorkDuration.Observe(_time.GetElapsedTime(started));
        lock (_gate)
        {
            entry.Processing = false;
            if (entry.Removed && entry.Pending is null)
            {
                _entries.Remove(key);
                return;
            }
            entry.Removed = false;
            var at = entry.Pending is { } p && (next is null || p < next) ? p : next;
            entry.Pending = null;
            if (at is null)
            {
                _entries.Remove(key);
                return;
            }
            entry.Due = at;
            Schedule(key, entry, at.Value);
        }
    }

    /// <summary>Stops the workers after the work in hand (cancelled through its token).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _ready.Writer.TryComplete();
        await _timer.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private sealed class Entry
    {
        public DateTimeOffset? Due;
        public DateTimeOffset? Pending;
        public bool Queued;
        public bool Processing;
        public bool Removed;
        public int Failures;
    }
}

using System.Collections.Concurrent;
using Aviary.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Aviary.Core.Tests.Scheduling;

/// <summary>The operator's shared work queue on a fake clock: due times, deduplication, one worker per key, bounded workers, per-key backoff.</summary>
public sealed class WorkQueueTests
{
    [Fact]
    public async Task AddAt_DueLater_RunsOnlyWhenTheClockGetsThere()
    {
        var clock = new FakeTimeProvider();
        var runs = new ConcurrentQueue<(string Key, DateTimeOffset At)>();
        await using var queue = new WorkQueue<string>((k, _) =>
        {
            runs.Enqueue((k, clock.GetUtcNow()));
            return Task.FromResult<DateTimeOffset?>(null);
        }, 2, clock);
        var start = clock.GetUtcNow();
        queue.AddAt("b", start.AddSeconds(10));
        queue.AddAt("a", start.AddSeconds(5));
        // Nothing is due: nothing is ready for a worker (the timer fires only inside Advance).
        Assert.Equal(0, queue.Depth);
        Assert.Equal(2, queue.Scheduled);
        Assert.Empty(runs);

        clock.Advance(TimeSpan.FromSeconds(5));
        await Eventually.True(() => runs.Count == 1, describe: () => string.Join(",", runs));
        clock.Advance(TimeSpan.FromSeconds(5));
        await Eventually.True(() => runs.Count == 2, describe: () => string.Join(",", runs));
        Assert.Equal([("a", start.AddSeconds(5)), ("b", start.AddSeconds(10))], runs);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Add_ManyTimesWhileWorking_OneWorkerPerKeyAndOneMoreRunAfter()
    {
        var clock = new FakeTimeProvider();
        var gate = new TaskCompletionSource();
        var running = 0;
        var maxRunning = 0;
        var runs = 0;
        await using var queue = new WorkQueue<string>(async (_, _) =>
        {
            var now = Interlocked.Increment(ref running);
            maxRunning = Math.Max(maxRunning, now);
            Interlocked.Increment(ref runs);
            await gate.Task;
            Interlocked.Decrement(ref running);
            return null;
        }, 4, clock);

        queue.Add("a");
        await Eventually.True(() => Volatile.Read(ref runs) == 1, describe: () => $"{runs} runs");
        for (var i = 0; i < 10; i++) queue.Add("a");
        gate.SetResult();
        // The key is forgotten once the run after the adds returned: no third run can come.
        await Eventually.True(() => Volatile.Read(ref runs) == 2 && queue.Count == 0, describe: () => $"{runs} runs, {queue.Count} keys");
        Assert.Equal(2, runs);
        Assert.Equal(1, maxRunning);
    }

    [Fact]
    public async Task Workers_Bounded_NoMoreKeysAtOnceThanWorkers()
    {
        var clock = new FakeTimeProvider();
        var gate = new TaskCompletionSource();
        var running = 0;
        var started = 0;
        await using var queue = new WorkQueue<int>(async (_, _) =>
        {
            Interlocked.Increment(ref running);
            Interlocked.Increment(ref started);
            await gate.Task;
            Interlocked.Decrement(ref running);
            return null;
        }, 3, clock);
        for (var i = 0; i < 10; i++) queue.Add(i);
        await Eventually.True(() => Volatile.Read(ref started) == 3 && queue.Depth == 7, describe: () => $"{started} started, depth {queue.Depth}");
        Assert.Equal(3, running);
        gate.SetResult();
        await Eventually.True(() => Volatile.Read(ref started) == 10 && queue.Count == 0, describe: () => $"{started} started");
    }

    [Fact]
    public async Task Work_Throws_BacksOffPerKeyExponentially()
    {
        var clock = new FakeTimeProvider();
        var runs = new ConcurrentQueue<DateTimeOffset>();
        await using var queue = new WorkQueue<string>((_, _) =>
        {
            runs.Enqueue(clock.GetUtcNow());
            if (runs.Count < 3) throw new InvalidOperationException("boom");
            return Task.FromResult<DateTimeOffset?>(null);
        }, 1, clock, new Aviary.Core.Primitives.Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        var start = clock.GetUtcNow();
        queue.Add("a");
        foreach (var (wait, count) in new[] { (1000, 2), (2000, 3) })
        {
            await Eventually.True(() => queue.Scheduled == 1, describe: () => $"{runs.Count} runs, {queue.Scheduled} scheduled");
            // The timer fires inside Advance: one millisecond short of the backoff, nothing is due.
            clock.Advance(TimeSpan.FromMilliseconds(wait - 1));
            Assert.Equal(count - 1, runs.Count);
            Assert.Equal(0, queue.Depth);
            clock.Advance(TimeSpan.FromMilliseconds(1));
            await Eventually.True(() => runs.Count == count, describe: () => $"{runs.Count} runs");
        }
        Assert.Equal([0, 1, 3], runs.Select(r => (r - start).TotalSeconds));
        Assert.Equal(2, queue.Retries);
    }

    [Fact]
    public async Task Work_ReturnsNextDue_RunsAgainThenAndLagIsRecorded()
    {
        var clock = new FakeTimeProvider();
        var runs = 0;
        await using var queue = new WorkQueue<string>((_, _) =>
        {
            var n = Interlocked.Increment(ref runs);
            return Task.FromResult<DateTimeOffset?>(n < 3 ? clock.GetUtcNow().AddSeconds(10) : null);
        }, 1, clock);
        queue.Add("a");
        await Eventually.True(() => Volatile.Read(ref runs) == 1 && queue.Scheduled == 1, describe: () => $"{runs} runs");
        clock.Advance(TimeSpan.FromSeconds(10));
        await Eventually.True(() => Volatile.Read(ref runs) == 2 && queue.Scheduled == 1, describe: () => $"{runs} runs");
        clock.Advance(TimeSpan.FromSeconds(12));
        await Eventually.True(() => Volatile.Read(ref runs) == 3, describe: () => $"{runs} runs");
        Assert.Equal(3, queue.Lag.Count);
        // The third run was due at 20 s and the clock jumped to 22 s before the timer fired.
        Assert.True(queue.Lag.Sum >= 2, $"lag sum {queue.Lag.Sum}");
    }

    [Fact]
    public async Task Remove_WaitingKey_NeverRuns()
    {
        var clock = new FakeTimeProvider();
        var runs = 0;
        await using var queue = new WorkQueue<string>((_, _) =>
        {
            Interlocked.Increment(ref runs);
            return Task.FromResult<DateTimeOffset?>(null);
        }, 1, clock);
        queue.AddAt("a", clock.GetUtcNow().AddSeconds(5));
        queue.Remove("a");
        Assert.Equal(0, queue.Count);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, queue.Depth);
        Assert.Equal(0, runs);
    }
}

namespace Aviary.Core.Primitives;

/// <summary>A delay on the injected clock that can be cut short: <see cref="Wake"/> ends the current (or next) wait.</summary>
public sealed class Wakeup(TimeProvider time)
{
    private readonly object _gate = new();
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Wake()
    {
        lock (_gate) _signal.TrySetResult();
    }

    /// <summary>
    /// Waits for <paramref name="delay"/> or a wake-up, whichever comes first; true when woken. Throws when cancelled.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        Task signal;
        lock (_gate) signal = _signal.Task;
        if (delay > TimeSpan.Zero && !signal.IsCompleted)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sleep = Task.Delay(delay, time, cts.Token);
            await Task.WhenAny(signal, sleep);
            await cts.CancelAsync();
            await sleep.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_signal.Task.IsCompleted) return false;
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return true;
        }
    }
}

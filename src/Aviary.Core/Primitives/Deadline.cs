namespace Aviary.Core.Primitives;

/// <summary>
/// A cancellation that fires when an outer token does or when a timeout on a <see cref="TimeProvider"/> passes: the one
/// way to bound an operation in time (so virtual-time runs never wait real seconds). Replaces a linked source with
/// <c>CancelAfter</c>, whose timer is the real clock's.
/// </summary>
public sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;

    private Deadline(TimeSpan timeout, TimeProvider time, CancellationToken outer)
    {
        _timer = new CancellationTokenSource(timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(outer, _timer.Token);
    }

    /// <summary>Starts a deadline <paramref name="timeout"/> from now on <paramref name="time"/>, also cancelled by <paramref name="outer"/>.</summary>
    public static Deadline After(TimeSpan timeout, TimeProvider time, CancellationToken outer = default) => new(timeout, time, outer);

    public CancellationToken Token => _linked.Token;

    /// <summary>Cancelled, by the timeout or the outer token.</summary>
    public bool IsCancellationRequested => _linked.IsCancellationRequested;

    /// <summary>The timeout passed (as opposed to the outer token being cancelled).</summary>
    public bool Expired => _timer.IsCancellationRequested;

    public void Dispose()
    {
        _linked.Dispose();
        _timer.Dispose();
    }
}

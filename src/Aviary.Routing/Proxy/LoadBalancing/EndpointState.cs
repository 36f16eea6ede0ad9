namespace Aviary.Routing.Proxy.LoadBalancing;

/// <summary>
/// The mutable runtime state of one instance: its requests in flight and whether it was removed. A state outlives its
/// removal until its last request finishes, so that <see cref="ProxyServer.DrainAsync"/> can wait for it.
/// </summary>
internal sealed class EndpointState
{
    private int _inFlight;
    private int _removed;
    private TaskCompletionSource? _idle;

    public EndpointState(BackendEndpoint endpoint)
    {
        Endpoint = endpoint;
        // "http://host:port" without the trailing slash: the request target (which starts with '/') is appended.
        Prefix = endpoint.Address.GetLeftPart(UriPartial.Authority);
    }

    private long _avoidUntil;

    public BackendEndpoint Endpoint { get; }

    /// <summary>Whether a recent connection failure says to pass this instance over (a timestamp of <see cref="TimeProvider"/>).</summary>
    public bool IsAvoided(long now)
    {
        var until = Volatile.Read(ref _avoidUntil);
        return until != 0 && now < until;
    }

    /// <summary>Passes the instance over until <paramref name="until"/>; true when it was not avoided before (log once).</summary>
    public bool Avoid(long now, long until)
    {
        var wasAvoided = IsAvoided(now);
        Interlocked.Exchange(ref _avoidUntil, until);
        return !wasAvoided;
    }

    /// <summary>A request got through: no reason to avoid the instance any more.</summary>
    public void Reached()
    {
        if (Volatile.Read(ref _avoidUntil) != 0) Interlocked.Exchange(ref _avoidUntil, 0);
    }

    public string Id => Endpoint.Id;

    public string Prefix { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    public bool Removed => Volatile.Read(ref _removed) != 0;

    public void MarkRemoved(bool removed) => Interlocked.Exchange(ref _removed, removed ? 1 : 0);

    /// <summary>Counts a request; false (and nothing counted) when the endpoint was removed meanwhile.</summary>
    public bool TryAcquire()
    {
        Interlocked.Increment(ref _inFlight);
        // Increment before reading the flag, and the remover sets the flag before reading the count: either we see
        // the removal, or the drainer sees our request.
        if (Volatile.Read(ref _removed) == 0) return true;
        Release();
        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0) Volatile.Read(ref _idle)?.TrySetResult();
    }

    /// <summary>Completes when no request is in flight.</summary>
    public Task WhenIdleAsync()
    {
        while (true)
        {
            var current = Volatile.Read(ref _idle);
            var waiter = current;
            if (waiter is null || waiter.Task.IsCompleted)
            {
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (Interlocked.CompareExchange(ref _idle, waiter, current) != current) continue;
            }
            if (Volatile.Read(ref _inFlight) == 0) waiter.TrySetResult();
            return waiter.Task;
        }
    }
}

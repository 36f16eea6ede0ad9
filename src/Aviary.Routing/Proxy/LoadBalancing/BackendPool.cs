namespace Aviary.Routing.Proxy.LoadBalancing;

/// <summary>
/// The instances of one backend (primary or canary) of one service: an immutable array swapped as a whole, and
/// least-in-flight selection by the power of two choices.
/// </summary>
internal sealed class BackendPool(BackendRole role)
{
    private EndpointState[] _endpoints = [];

    public BackendRole Role { get; } = role;

    public EndpointState[] Endpoints => Volatile.Read(ref _endpoints);

    public void Replace(EndpointState[] endpoints) => Volatile.Write(ref _endpoints, endpoints);

    /// <summary>
    /// Picks an instance and counts the request on it, or null when there is none (other than <paramref name="exclude"/>).
    /// Two distinct instances are drawn at random and the one with fewer requests in flight wins, unless it is being
    /// avoided after a connection failure and the other is not.
    /// </summary>
    /// <param name="now">The current <see cref="TimeProvider.GetTimestamp"/>, to tell which instances are avoided.</param>
    public EndpointState? Acquire(SharedRandom random, long now, EndpointState? exclude = null)
    {
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var endpoints = Endpoints;
            var chosen = Choose(endpoints, random, now, exclude);
            if (chosen is null) return null;
            if (chosen.TryAcquire()) return chosen;
            // Removed between reading the array and counting: read the new array and try again.
        }
        return null;
    }

    private static EndpointState? Choose(EndpointState[] endpoints, SharedRandom random, long now, EndpointState? exclude)
    {
        var n = endpoints.Length;
        if (n == 0) return null;
        if (exclude is not null)
        {
            var at = Array.IndexOf(endpoints, exclude);
            if (at >= 0)
            {
                if (n == 1) return null;
                if (n == 2) return endpoints[1 - at];
                // Draw among the n-1 others by skipping over the excluded slot.
                var a = random.Next(n - 1);
                var b = (a + 1 + random.Next(n - 2)) % (n - 1);
                return Better(endpoints[a >= at ? a + 1 : a], endpoints[b >= at ? b + 1 : b], now);
            }
        }
        if (n == 1) return endpoints[0];
        var i = random.Next(n);
        var j = (i + 1 + random.Next(n - 1)) % n;
        return Better(endpoints[i], endpoints[j], now);
    }

    private static EndpointState Better(EndpointState first, EndpointState second, long now)
    {
        var firstAvoided = first.IsAvoided(now);
        if (firstAvoided != second.IsAvoided(now)) return firstAvoided ? second : first;
        return second.InFlight < first.InFlight ? second : first;
    }
}

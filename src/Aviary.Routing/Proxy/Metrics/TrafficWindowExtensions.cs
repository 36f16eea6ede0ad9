namespace Aviary.Routing.Proxy;

/// <summary>Success rate and latency quantiles of a <see cref="TrafficWindow"/>, computed as Prometheus would from the
/// same counters, for the built-in metric provider.</summary>
public static class TrafficWindowExtensions
{
    /// <summary>
    /// The <paramref name="q"/> quantile of the latency, in milliseconds, by <c>histogram_quantile</c>'s rule: find the
    /// bucket holding rank q·total and interpolate linearly inside it (from 0 for the first bucket); a rank in the +Inf
    /// bucket yields the highest finite bound. Null when the window holds no request.
    /// </summary>
    /// <param name="q">Between 0 and 1, e.g. 0.99 for p99.</param>
    public static double? Quantile(this TrafficWindow window, double q)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (double.IsNaN(q) || q < 0 || q > 1) throw new ArgumentOutOfRangeException(nameof(q), q, "A quantile lies between 0 and 1.");
        var bounds = window.LatencyBucketsMs;
        var counts = window.LatencyCounts;
        if (bounds.Count == 0 || bounds.Count != counts.Count) return null;

        long observations = 0;
        for (var i = 0; i < counts.Count; i++) observations += counts[i];
        if (observations <= 0) return null;

        var rank = q * observations;
        long below = 0;
        var last = bounds.Count - 1;
        for (var b = 0; b < last; b++)
        {
            var cumulative = below + counts[b];
            if (cumulative >= rank && counts[b] > 0)
            {
                if (b == 0 && bounds[0] <= 0) return bounds[0];
                var start = b == 0 ? 0 : bounds[b - 1];
                return start + (bounds[b] - start) * ((rank - below) / counts[b]);
            }
            below = cumulative;
        }
        // The rank falls in the +Inf bucket (or only there): the highest finite bound, as Prometheus answers.
        return last > 0 ? bounds[last - 1] : null;
    }

    /// <summary>Percent of requests answered without a 5xx status, or null when the window holds no request.</summary>
    public static double? SuccessRate(this TrafficWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return window.Total <= 0 ? null : 100.0 * (window.Total - window.ServerErrors) / window.Total;
    }
}

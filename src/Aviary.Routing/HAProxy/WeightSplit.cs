using Aviary.Core.Abstractions;

namespace Aviary.Routing.HAProxy;

/// <summary>
/// Turns role weights (percent) into HAProxy server weights (0..256, relative) and back.
/// <para>Each role's total is its percentage times one factor <c>k</c>, the largest for which every server's share
/// stays within 256; the total is spread over the role's servers as evenly as integers allow (they differ by at most
/// one), and all weights are then divided by their greatest common divisor. Because <c>k</c> ≥ 2 for any role of up to
/// 256 servers, the role totals are always in the exact ratio of the percentages: a set/get round trip is exact.</para>
/// </summary>
internal static class WeightSplit
{
    /// <summary>Server weights of each role. A role given traffic but without servers cannot take it: the other role
    /// gets everything (as the built-in proxy does), so that no request fails for want of a server.</summary>
    public static (int[] Primary, int[] Canary) Compute(RouteWeights weights, int primaryServers, int canaryServers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(primaryServers);
        ArgumentOutOfRangeException.ThrowIfNegative(canaryServers);
        int p = weights.Primary, c = weights.Canary;
        if (primaryServers == 0 || canaryServers == 0)
        {
            p = primaryServers > 0 ? 100 : 0;
            c = canaryServers > 0 ? 100 : 0;
        }
        if (p == 0 && c == 0) return (new int[primaryServers], new int[canaryServers]);

        var k = int.MaxValue;
        if (p > 0) k = Math.Min(k, RuntimeApiClient.MaxWeight * primaryServers / p);
        if (c > 0) k = Math.Min(k, RuntimeApiClient.MaxWeight * canaryServers / c);
        var primary = Spread(p * k, primaryServers);
        var canary = Spread(c * k, canaryServers);

        var divisor = primary.Concat(canary).Where(w => w > 0).Aggregate(0, Gcd);
        if (divisor > 1)
        {
            for (var i = 0; i < primary.Length; i++) primary[i] /= divisor;
            for (var i = 0; i < canary.Length; i++) canary[i] /= divisor;
        }
        return (primary, canary);
    }

    /// <summary>Role shares from the sums of the servers' weights: the canary's percentage rounded to the nearest
    /// integer (halves away from zero), the primary's the rest. Null when both sums are 0.</summary>
    public static RouteWeights? Shares(long primaryTotal, long canaryTotal)
    {
        if (primaryTotal + canaryTotal <= 0) return null;
        var canary = (int)Math.Round(100.0 * canaryTotal / (primaryTotal + canaryTotal), MidpointRounding.AwayFromZero);
        return new RouteWeights(100 - canary, canary);
    }

    private static int[] Spread(int total, int servers)
    {
        var weights = new int[servers];
        for (var i = 0; i < servers; i++) weights[i] = total / servers + (i < total % servers ? 1 : 0);
        return weights;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}

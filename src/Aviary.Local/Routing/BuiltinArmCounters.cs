using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing;
using Aviary.Routing.Proxy;

namespace Aviary.Local.Routing;

/// <summary>
/// The primary's and the canary's cumulative counts from Aviary's own router, for the statistical judge: requests,
/// 5xx answers, and requests slower than the threshold (every histogram bucket above it; exact when the threshold is
/// one of the bucket bounds, such as 500 ms).
/// </summary>
public sealed class BuiltinArmCounters(IProxyRouter proxy) : IArmCounters
{
    public ValueTask<Outcome<ArmCounts>> ReadAsync(CanaryPolicy canary, double slowThresholdMs, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<ArmCounts>.Ok(new ArmCounts(
            Sample(proxy.GetTotals(canary.Id, BackendRole.Primary), slowThresholdMs),
            Sample(proxy.GetTotals(canary.Id, BackendRole.Canary), slowThresholdMs))));

    internal static ArmSample Sample(TrafficWindow totals, double slowThresholdMs)
    {
        double slow = 0;
        for (var i = 0; i < totals.LatencyCounts.Count; i++)
        {
            var lower = i == 0 ? 0 : totals.LatencyBucketsMs[i - 1];
            if (lower >= slowThresholdMs) slow += totals.LatencyCounts[i];
        }
        return new ArmSample(totals.Total, totals.ServerErrors, slow);
    }
}

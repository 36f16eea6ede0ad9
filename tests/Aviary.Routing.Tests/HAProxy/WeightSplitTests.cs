using Aviary.Core.Abstractions;
using Aviary.Routing.HAProxy;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>Role percentages to HAProxy server weights (0..256) and back.</summary>
public sealed class WeightSplitTests
{
    [Fact]
    public void Compute_EveryPercentageAndServerCount_ExactRatioWithinHAProxyRange()
    {
        for (var primaryServers = 1; primaryServers <= 16; primaryServers++)
        for (var canaryServers = 1; canaryServers <= 16; canaryServers++)
        for (var canary = 0; canary <= 100; canary++)
        {
            var weights = new RouteWeights(100 - canary, canary);
            var (p, c) = WeightSplit.Compute(weights, primaryServers, canaryServers);

            Assert.Equal(primaryServers, p.Length);
            Assert.Equal(canaryServers, c.Length);
            Assert.All(p.Concat(c), w => Assert.InRange(w, 0, 256));
            // The role sums are in the exact ratio of the percentages: P * sum(c) == C * sum(p).
            Assert.Equal((long)(100 - canary) * c.Sum(), (long)canary * p.Sum());
            Assert.Equal(weights, WeightSplit.Shares(p.Sum(), c.Sum()));
            // Spread evenly within a role.
            Assert.True(p.Max() - p.Min() <= 1 && c.Max() - c.Min() <= 1, $"{weights} over {primaryServers}/{canaryServers}: [{string.Join(",", p)}] [{string.Join(",", c)}]");
        }
    }

    [Fact]
    public void Compute_90To10OverTwoAndOne_ServerWeightsInThatProportion()
    {
        var (p, c) = WeightSplit.Compute(new RouteWeights(90, 10), 2, 1);

        Assert.Equal([9, 9], p);
        Assert.Equal([2], c);
    }

    [Theory]
    [InlineData(100, 0, new[] { 1 }, new[] { 0 })]
    [InlineData(0, 100, new[] { 0 }, new[] { 1 })]
    [InlineData(50, 50, new[] { 1 }, new[] { 1 })]
    public void Compute_SimpleCases_SmallestWeights(int primary, int canary, int[] expectedPrimary, int[] expectedCanary)
    {
        var (p, c) = WeightSplit.Compute(new RouteWeights(primary, canary), 1, 1);

        Assert.Equal(expectedPrimary, p);
        Assert.Equal(expectedCanary, c);
    }

    [Theory]
    [InlineData(0, 100, 2, 0)]
    [InlineData(100, 0, 0, 1)]
    [InlineData(30, 70, 0, 3)]
    public void Compute_RoleWithoutServers_OtherRoleServesEverything(int primary, int canary, int primaryServers, int canaryServers)
    {
        var (p, c) = WeightSplit.Compute(new RouteWeights(primary, canary), primaryServers, canaryServers);

        Assert.True(p.Concat(c).Sum() > 0);
        Assert.All(p.Concat(c), w => Assert.True(w > 0));
    }

    [Fact]
    public void Compute_NoServers_Empty()
    {
        var (p, c) = WeightSplit.Compute(new RouteWeights(50, 50), 0, 0);

        Assert.Empty(p);
        Assert.Empty(c);
    }

    [Theory]
    [InlineData(1, 0, 100, 0)]
    [InlineData(0, 5, 0, 100)]
    [InlineData(2, 1, 67, 33)]
    [InlineData(1, 2, 33, 67)]
    [InlineData(199, 1, 99, 1)]
    [InlineData(399, 1, 100, 0)]
    [InlineData(1, 1, 50, 50)]
    public void Shares_RoundsCanaryToNearestPercent(long primaryTotal, long canaryTotal, int primary, int canary) =>
        Assert.Equal(new RouteWeights(primary, canary), WeightSplit.Shares(primaryTotal, canaryTotal));

    [Fact]
    public void Shares_NoWeightAtAll_Null() => Assert.Null(WeightSplit.Shares(0, 0));
}

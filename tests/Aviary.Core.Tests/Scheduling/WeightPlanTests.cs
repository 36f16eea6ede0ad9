using Aviary.Core.Scheduling;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Scheduling;

public sealed class WeightPlanTests
{
    private static Core.Policy.CanaryPolicy Policy(string analysis) => SchedulerHarness.Compile(SchedulerHarness.Canary(analysis));

    private static List<int> Walk(Core.Policy.CanaryPolicy policy)
    {
        var weights = new List<int>();
        var w = 0;
        while (w < policy.EffectiveMaxWeight && weights.Count < 200)
        {
            w = WeightPlan.NextWeight(policy, w);
            weights.Add(w);
        }
        return weights;
    }

    [Theory]
    [InlineData(10, 100, new[] { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 })]
    [InlineData(5, 50, new[] { 5, 10, 15, 20, 25, 30, 35, 40, 45, 50 })]
    [InlineData(20, 50, new[] { 20, 40, 50 })]
    [InlineData(30, 100, new[] { 30, 60, 90, 100 })]
    [InlineData(60, 50, new[] { 50 })]
    [InlineData(1, 3, new[] { 1, 2, 3 })]
    public void NextWeight_StepWeight_StepsUpToMaxWithoutOvershoot(int step, int max, int[] expected)
    {
        Assert.Equal(expected, Walk(Policy($"interval: 1m\nthreshold: 1\nstepWeight: {step}\nmaxWeight: {max}")));
    }

    [Fact]
    public void NextWeight_StepWeights_FollowsTheList()
    {
        Assert.Equal([1, 2, 10, 80], Walk(Policy("interval: 1m\nthreshold: 1\nstepWeights: [1, 2, 10, 80]")));
    }

    [Fact]
    public void NextStep_StepWeightsOffTheList_GoesToTheNextStepAbove()
    {
        var policy = Policy("interval: 1m\nthreshold: 1\nstepWeights: [10, 30, 60]");
        Assert.Equal(30, WeightPlan.NextWeight(policy, 15));
        Assert.Equal(60, policy.EffectiveMaxWeight);
    }

    [Fact]
    public void NextWeight_DefaultMaxWeight_Is100()
    {
        var policy = Policy("interval: 1m\nthreshold: 1\nstepWeight: 40");
        Assert.Equal([40, 80, 100], Walk(policy));
    }
}

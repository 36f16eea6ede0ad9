using Aviary.Core.Policy;

namespace Aviary.Core.Scheduling;

/// <summary>Canary weight stepping, Flagger's rules with the overshoot fixed.</summary>
public static class WeightPlan
{
    /// <summary>The increment from <paramref name="canaryWeight"/> to the next step (Flagger's nextStepWeight).</summary>
    public static int NextStep(CanaryPolicy policy, int canaryWeight)
    {
        var steps = policy.StepWeights;
        if (policy.StepWeight > 0 || steps.Count == 0) return policy.StepWeight;
        var maxStep = 100 - canaryWeight;
        if (maxStep == 0) return 1;
        if (canaryWeight == 0) return Math.Min(maxStep, steps[0]);
        for (var i = 0; i < steps.Count - 1; i++)
            if (steps[i] == canaryWeight) return Math.Min(maxStep, steps[i + 1] - canaryWeight);
        // Not on a step (the spec changed mid-rollout): go to the next step above.
        var next = steps.FirstOrDefault(s => s > canaryWeight);
        return next > 0 ? next - canaryWeight : maxStep;
    }

    /// <summary>The next canary weight, never above the maximum (Flagger overshoots: step 20, max 50 gives 60).</summary>
    public static int NextWeight(CanaryPolicy policy, int canaryWeight) =>
        Math.Min(canaryWeight + NextStep(policy, canaryWeight), policy.EffectiveMaxWeight);
}

using Aviary.Core.Abstractions;

namespace Aviary.Core.Analysis;

/// <summary>Placeholder until the anytime-valid sequential test lands: never rejects.</summary>
public sealed class SequentialJudge : IJudge
{
    public JudgeResult Evaluate(JudgeSettings settings, JudgeState? state, ArmCounts increment) =>
        new(increment.Canary.Requests < settings.MinRequests ? JudgeDecision.Inconclusive : JudgeDecision.Continue, state ?? new JudgeState(), []);
}

using System.Text;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.TestKit;

namespace Aviary.Core.Tests.Scheduling;

/// <summary>
/// The full sequence of events and webhook calls of a canary rollout that uses every hook type, compared with
/// a golden file. Every event is also sent to the event hook, so the call log shows both, interleaved.
/// Set AVIARY_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change.
/// </summary>
public sealed class GoldenRolloutTests
{
    private const string Analysis = """
        interval: 1m
        threshold: 2
        stepWeight: 25
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
        webhooks:
          - name: approve
            type: confirm-rollout
            url: http://gate.test/gate/check
          - name: smoke
            type: pre-rollout
            url: http://hooks.test/smoke
            metadata: {suite: smoke}
          - name: load-test
            type: rollout
            url: http://loadtester.test/
            metadata: {cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"}
          - name: more-traffic
            type: confirm-traffic-increase
            url: http://gate.test/traffic
          - name: promote
            type: confirm-promotion
            url: http://gate.test/promote
          - name: abort
            type: rollback
            url: http://gate.test/rollback/check
          - name: notify
            type: post-rollout
            url: http://hooks.test/notify
          - name: audit
            type: event
            url: http://audit.test/events
        """;

    [Fact]
    public async Task Tick_RolloutWithEveryHookType_MatchesGoldenSequence()
    {
        var h = new SchedulerHarness(SchedulerHarness.Canary(Analysis));
        h.Webhooks.Answer("abort", 404);
        h.Webhooks.Answer("approve", 403);
        h.Webhooks.Answer("promote", 403);
        var log = new StringBuilder();
        var seen = 0;

        async Task Tick(string note)
        {
            await h.TickAsync();
            log.Append("-- tick ").Append(h.Outcomes.Count).Append(": ").Append(note).Append(" => ").Append(h.Phase)
                .Append(' ').Append(h.Router.Weights).Append('\n');
            foreach (var (hook, payload) in h.Webhooks.Calls.Skip(seen))
            {
                log.Append("   ").Append(hook.Type).Append(' ').Append(hook.Name).Append(" phase=").Append(payload.Phase);
                if (hook.Type == WebhookType.Event)
                    log.Append(' ').Append(payload.Metadata["eventType"]).Append(": ").Append(payload.Metadata["eventMessage"]);
                else if (payload.Metadata.Count > 0)
                    log.Append(' ').Append(string.Join(",", payload.Metadata.Select(kv => $"{kv.Key}={kv.Value}")));
                log.Append('\n');
            }
            seen = h.Webhooks.Calls.Count;
        }

        await Tick("first sight");
        h.Workload.NewRevision();
        await Tick("new revision, confirm-rollout closed");
        await Tick("still closed");
        h.Webhooks.Answer("approve", 200);
        await Tick("confirm-rollout opened");
        await Tick("analysis starts");
        await Tick("analysis");
        await Tick("max weight, confirm-promotion closed");
        h.Webhooks.Answer("promote", 200);
        await Tick("confirm-promotion opened");
        await Tick("promoting");
        await Tick("finalising");
        Assert.Equal(CanaryPhase.Succeeded, h.Phase);

        Golden.Verify(Path.Combine("Scheduling", "Golden", "every-hook-rollout.txt"), log.ToString());
    }
}

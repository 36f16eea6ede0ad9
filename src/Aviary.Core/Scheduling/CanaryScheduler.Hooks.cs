using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Core.Scheduling;

// The tick's webhooks: gates, hooks and the payload they are sent (with the revision checksum).
public sealed partial class CanaryScheduler
{
    private sealed partial class Tick
    {
        // ---- hooks ----

        private async Task<bool> RollbackHookSignalledAsync()
        {
            foreach (var hook in p.HooksOf(WebhookType.Rollback))
            {
                if (await CallAsync(hook, Phase, record: true))
                {
                    await WarnAsync($"Rollback check {hook.Name} passed");
                    return true;
                }
                await InfoAsync($"Rollback hook {hook.Name} not signaling a rollback");
            }
            return false;
        }

        private async Task PostRolloutAsync(string phase)
        {
            foreach (var hook in p.HooksOf(WebhookType.PostRollout))
            {
                var result = await CallHookAsync(hook, phase);
                if (!result.Succeeded)
                {
                    await WarnAsync($"Post-rollout hook {hook.Name} failed {result.Error}");
                    return;
                }
                await InfoAsync($"Post-rollout check {hook.Name} passed");
            }
        }

        /// <summary>Asks every gate of <paramref name="type"/> in order; the first closed one runs <paramref name="closed"/> and stops.</summary>
        private async Task<bool> GatesOpenAsync(WebhookType type, string phase, string label, bool record, Func<WebhookCheck, Task> closed)
        {
            foreach (var hook in p.HooksOf(type))
            {
                if (!await CallAsync(hook, phase, record))
                {
                    await closed(hook);
                    return false;
                }
                await InfoAsync($"{label} check {hook.Name} passed");
            }
            return true;
        }

        private async Task<bool> CallAsync(WebhookCheck hook, string phase, bool record) =>
            (await CallHookAsync(hook, phase, record)).Succeeded;

        private async Task<WebhookResult> CallHookAsync(WebhookCheck hook, string phase, bool record = true)
        {
            var payload = new WebhookPayload(p.Name, p.Namespace, phase, Checksum(), hook.Metadata);
            var result = await s.Webhooks.CallAsync(hook, payload, ct);
            if (record)
            {
                _checks.Add(new AnalysisCheck(Now, "webhook", hook.Name, result.StatusCode, null, null,
                    result.Succeeded ? CheckResult.Pass : CheckResult.Fail, result.Error));
            }
            return result;
        }

        private string Checksum() =>
            Hashing.Fnv32aHex((_status.LastAppliedSpec ?? "") + "|" +
                string.Join(",", (_status.TrackedConfigs ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => $"{kv.Key}={kv.Value}")));
    }
}

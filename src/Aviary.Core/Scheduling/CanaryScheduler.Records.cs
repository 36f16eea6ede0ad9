using System.Globalization;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;

namespace Aviary.Core.Scheduling;

// What the tick records and says: manual actions taken or refused, effects with their warnings, events, alerts and their fields, conditions.
public sealed partial class CanaryScheduler
{
    private sealed partial class Tick
    {
        // ---- manual actions ----

        private string DisplayPhase => Phase.Length == 0 ? CanaryPhase.Initializing : Phase;

        private async Task ApplyAsync(ManualAction action, string message)
        {
            _actionResult = new ActionResult(action, true, message);
            await InfoAsync(message);
        }

        private async Task RefuseAsync(ManualAction action, string reason)
        {
            var message = $"{char.ToUpperInvariant(action.Verb[0])}{action.Verb[1..]} requested by {action.RequestedBy} refused: {reason}";
            _actionResult = new ActionResult(action, false, message);
            await WarnAsync(message);
        }

        // ---- effects and records ----

        private async Task<bool> SetRoutesAsync(RouteWeights weights)
        {
            var result = await s.Router.SetRoutesAsync(p, weights, ct);
            if (!result.Succeeded)
            {
                await WarnAsync(result.Error!);
                return false;
            }
            _routes = weights;
            return true;
        }

        private async Task<bool> Succeeded(ValueTask<Outcome> operation)
        {
            var result = await operation;
            if (result.Succeeded) return true;
            await WarnAsync(result.Error!);
            return false;
        }

        private bool DeadlineExceeded(Readiness readiness) =>
            readiness.Stalled || (readiness.WaitingSince is { } since && Now - since >= p.ProgressDeadline);

        private Task InfoAsync(string message) => RecordAsync(EventType.Normal, message);

        private Task WarnAsync(string message) => RecordAsync(EventType.Warning, message);

        private async Task RecordAsync(EventType type, string message)
        {
            var now = Now;
            _events.Add(new CanaryEvent(now, type, message));
            foreach (var hook in p.HooksOf(WebhookType.Event))
            {
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["eventMessage"] = message,
                    ["eventType"] = type.ToString(),
                    ["timestamp"] = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                };
                foreach (var (k, v) in hook.Metadata) metadata.TryAdd(k, v);
                var payload = new WebhookPayload(p.Name, p.Namespace, Phase, Checksum(), metadata);
                // Event hooks are fire-and-report: their failure never changes the rollout.
                _ = await s.Webhooks.CallAsync(hook, payload, ct);
            }
        }

        private async Task AlertAsync(string message, AlertSeverity severity, bool metadata = false)
        {
            var alert = new Alert(p.Name, p.Namespace, message, severity, AlertFields(metadata));
            _alerts.Add(alert);
            if (p.Alerts.Count == 0)
            {
                await s.Notifier.PostAsync(null, alert, ct);
                return;
            }
            foreach (var route in p.Alerts)
            {
                // Fix (e): an alert without severity means info, which receives everything (Flagger sends it nothing).
                var wanted = route.Severity switch
                {
                    AlertSeverity.Info => true,
                    AlertSeverity.Warn => severity is AlertSeverity.Warn or AlertSeverity.Error,
                    _ => severity == AlertSeverity.Error,
                };
                if (wanted) await s.Notifier.PostAsync(route.ProviderRef, alert, ct);
            }
        }

        private List<AlertField> AlertFields(bool metadata)
        {
            var fields = new List<AlertField>
            {
                new("Phase", Phase),
                new("Canary weight", (_routes?.Canary ?? _status.CanaryWeight).ToString(CultureInfo.InvariantCulture)),
                new("Failed checks", $"{_status.FailedChecks}/{p.Threshold}"),
            };
            if (_failing is { } f)
            {
                var value = f.Value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : f.Result.ToString().ToLowerInvariant();
                var bounds = string.Join(" ", new[] { f.Min is { } lo ? $"min {Go(lo)}" : null, f.Max is { } hi ? $"max {Go(hi)}" : null }
                    .Where(x => x is not null));
                fields.Add(new AlertField("Failing check", bounds.Length == 0 ? $"{f.Name} {value}" : $"{f.Name} {value} ({bounds})"));
            }
            if (!metadata) return fields;
            fields.Add(new AlertField("Target", $"{p.TargetKind}/{p.TargetId}"));
            fields.Add(new AlertField("Failed checks threshold", p.Threshold.ToString(CultureInfo.InvariantCulture)));
            fields.Add(new AlertField("Progress deadline", $"{(int)p.ProgressDeadline.TotalSeconds}s"));
            var routing = p.Strategy switch
            {
                DeploymentStrategy.ABTesting => "A/B Testing",
                DeploymentStrategy.BlueGreen => "Blue/Green",
                _ when p.StepWeights.Count > 0 => $"Weight steps: {string.Join(",", p.StepWeights)} max: {p.EffectiveMaxWeight}",
                _ => $"Weight step: {p.StepWeight} max: {p.MaxWeight}",
            };
            fields.Add(new AlertField("Traffic routing", routing));
            return fields;
        }

        private IReadOnlyList<CanaryCondition> Conditions(CanaryStatus status)
        {
            var phase = status.Phase ?? "";
            var (state, message) = phase switch
            {
                CanaryPhase.Initialized => ("True", $"{p.TargetKind} initialization completed."),
                CanaryPhase.Waiting or CanaryPhase.WaitingPromotion => ("Unknown", "Waiting for approval."),
                CanaryPhase.Progressing => ("Unknown", "New revision detected, progressing canary analysis."),
                CanaryPhase.Promoting => ("Unknown", "Canary analysis completed, starting primary rolling update."),
                CanaryPhase.Finalising => ("Unknown", "Canary analysis completed, routing all traffic to primary."),
                CanaryPhase.Succeeded => ("True", "Canary analysis completed successfully, promotion finished."),
                CanaryPhase.Failed => ("False", $"Canary analysis failed, {p.TargetKind} scaled to zero."),
                _ => ("Unknown", $"New {p.TargetKind} detected, starting initialization."),
            };
            var current = status.Conditions?.FirstOrDefault(c => c.Type == "Promoted");
            if (current is not null && current.Status == state && current.Reason == phase) return status.Conditions!;
            var transition = current is not null && current.Status == state ? current.LastTransitionTime : Now;
            return [new CanaryCondition { Type = "Promoted", Status = state, Reason = phase, Message = message, LastUpdateTime = Now, LastTransitionTime = transition }];
        }

        private static bool SameProgress(CanaryStatus a, CanaryStatus b) =>
            a.Phase == b.Phase && a.CanaryWeight == b.CanaryWeight && a.FailedChecks == b.FailedChecks && a.Iterations == b.Iterations &&
            a.LastAppliedSpec == b.LastAppliedSpec && a.LastPromotedSpec == b.LastPromotedSpec;

        private static string Go(double d) => d.ToString("R", CultureInfo.InvariantCulture);
    }
}

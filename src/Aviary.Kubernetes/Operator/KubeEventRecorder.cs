using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>
/// Records a canary's events as core/v1 Events with reason <c>Synced</c> from component <c>aviary</c>, as Flagger does,
/// so <c>kubectl describe canary</c> and <c>kubectl get events</c> show them. A repeat of the last message bumps its count.
/// </summary>
public sealed partial class KubeEventRecorder(KubeClient client, ILogger logger)
{
    private readonly ResourceClient<JsonObject> _events = client.Resource(KubeResources.Events);
    // Shared by every canary's loop, which run concurrently.
    private readonly ConcurrentDictionary<string, (string Message, string Name, int Count)> _last = new(StringComparer.Ordinal);

    public async Task RecordAsync(CanaryPolicy canary, IReadOnlyList<CanaryEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            try
            {
                await RecordAsync(canary, e, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or KubeApiException or IOException)
            {
                LogFailed(logger, canary.Id, ex.Message);
            }
        }
    }

    private async Task RecordAsync(CanaryPolicy canary, CanaryEvent e, CancellationToken cancellationToken)
    {
        var time = e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var type = e.Type == EventType.Warning ? "Warning" : "Normal";
        if (_last.TryGetValue(canary.Id, out var last) && last.Message == e.Message)
        {
            var count = last.Count + 1;
            var patched = await _events.PatchAsync(canary.Namespace, last.Name,
                KubePatch.Merge(new JsonObject { ["count"] = count, ["lastTimestamp"] = time }), cancellationToken);
            if (patched.Succeeded)
            {
                _last[canary.Id] = (e.Message, last.Name, count);
                return;
            }
        }
        var name = $"{canary.Name}.{Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 8).ToLowerInvariant()}";
        var meta = canary.Manifest.Metadata;
        var created = await _events.CreateAsync(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = canary.Namespace },
            ["involvedObject"] = new JsonObject
            {
                ["apiVersion"] = meta is null ? "flagger.app/v1beta1" : canary.Manifest.ApiVersion,
                ["kind"] = "Canary",
                ["name"] = canary.Name,
                ["namespace"] = canary.Namespace,
                ["uid"] = meta?.Uid,
                ["resourceVersion"] = meta?.ResourceVersion,
            },
            ["reason"] = CanaryEvent.Reason,
            ["message"] = e.Message,
            ["type"] = type,
            ["count"] = 1,
            ["firstTimestamp"] = time,
            ["lastTimestamp"] = time,
            ["source"] = new JsonObject { ["component"] = "aviary" },
            ["reportingComponent"] = "aviary",
        }, cancellationToken);
        if (created.Succeeded) _last[canary.Id] = (e.Message, name, 1);
        else LogFailed(logger, canary.Id, created.Error!.ToString());
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "cannot record an event of {Canary}: {Error}")]
    private static partial void LogFailed(ILogger logger, string canary, string error);
}

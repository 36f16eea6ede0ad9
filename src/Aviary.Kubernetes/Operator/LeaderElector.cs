using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>Leader election settings (client-go's defaults).</summary>
public sealed record LeaderElectionOptions
{
    public string Namespace { get; init; } = "aviary";
    public string LeaseName { get; init; } = "aviary-leader";

    /// <summary>This replica's identity (the pod name in a cluster).</summary>
    public required string Identity { get; init; }

    /// <summary>How long a lease is valid without renewal; a standby takes over after it expires. Default 15 s.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the leader renews. Default 5 s.</summary>
    public TimeSpan RenewPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a standby tries to acquire. Default 2 s.</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Leader election on a coordination.k8s.io/v1 Lease: the holder renews it; another replica takes it over once
/// <c>renewTime + leaseDurationSeconds</c> has passed. Writes go through resourceVersion, so two candidates can never
/// both win the same round. Only the leader acts; <see cref="IsLeader"/> turns false as soon as a renewal fails past
/// the lease's validity.
/// </summary>
public sealed partial class LeaderElector(KubeClient client, LeaderElectionOptions options, TimeProvider time, ILogger logger)
{
    private readonly ResourceClient<JsonObject> _leases = client.Resource(KubeResources.Leases);
    private DateTimeOffset _validUntil = DateTimeOffset.MinValue;

    public bool IsLeader => time.GetUtcNow() < _validUntil;

    public string Identity => options.Identity;

    /// <summary>Acquires and renews until cancelled; releases the lease on the way out when it still holds it.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var wasLeader = IsLeader;
            try
            {
                if (await TryAcquireOrRenewAsync(cancellationToken))
                {
                    _validUntil = time.GetUtcNow() + options.LeaseDuration;
                    if (!wasLeader) LogLeading(logger, options.Identity, options.Namespace, options.LeaseName);
                }
                else if (wasLeader && !IsLeader) LogLost(logger, options.Identity);
            }
            catch (Exception e) when (e is HttpRequestException or KubeApiException or IOException)
            {
                LogError(logger, e.Message);
            }
            try
            {
                await Task.Delay(IsLeader ? options.RenewPeriod : options.RetryPeriod, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await ReleaseAsync();
    }

    /// <summary>One round: true when this replica holds the lease afterwards.</summary>
    public async Task<bool> TryAcquireOrRenewAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = await _leases.GetAsync(options.Namespace, options.LeaseName, cancellationToken);
        if (current.IsNotFound)
        {
            var created = await _leases.CreateAsync(Lease(null, now, now, 0), cancellationToken);
            return created.Succeeded;
        }
        if (!current.Succeeded) return false;
        var lease = current.Value;
        var spec = lease["spec"] as JsonObject ?? new JsonObject();
        var holder = spec["holderIdentity"]?.GetValue<string>();
        var renewed = Parse(spec["renewTime"]) ?? DateTimeOffset.MinValue;
        var duration = spec["leaseDurationSeconds"]?.GetValue<int>() ?? (int)options.LeaseDuration.TotalSeconds;
        var transitions = spec["leaseTransitions"]?.GetValue<int>() ?? 0;
        var mine = holder == options.Identity;
        if (!mine && !string.IsNullOrEmpty(holder) && renewed.AddSeconds(duration) > now) return false;
        var acquired = mine ? Parse(spec["acquireTime"]) ?? now : now;
        var next = Lease(lease["metadata"]?["resourceVersion"]?.GetValue<string>(), acquired, now, mine ? transitions : transitions + 1);
        var updated = await _leases.UpdateAsync(next, cancellationToken);
        return updated.Succeeded;
    }

    private async Task ReleaseAsync()
    {
        if (!IsLeader) return;
        _validUntil = DateTimeOffset.MinValue;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            // An empty holder lets a standby take over at once instead of after the lease expires.
            await _leases.UpdateWithRetryAsync(options.Namespace, options.LeaseName, l =>
            {
                if (l["spec"]?["holderIdentity"]?.GetValue<string>() != options.Identity) return null;
                l["spec"]!["holderIdentity"] = null;
                return l;
            }, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or KubeApiException or OperationCanceledException)
        {
            LogError(logger, e.Message);
        }
    }

    private JsonObject Lease(string? resourceVersion, DateTimeOffset acquired, DateTimeOffset renewed, int transitions)
    {
        var metadata = new JsonObject { ["name"] = options.LeaseName, ["namespace"] = options.Namespace };
        if (resourceVersion is not null) metadata["resourceVersion"] = resourceVersion;
        return new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1",
            ["kind"] = "Lease",
            ["metadata"] = metadata,
            ["spec"] = new JsonObject
            {
                ["holderIdentity"] = options.Identity,
                ["leaseDurationSeconds"] = (int)options.LeaseDuration.TotalSeconds,
                ["acquireTime"] = MicroTime(acquired),
                ["renewTime"] = MicroTime(renewed),
                ["leaseTransitions"] = transitions,
            },
        };
    }

    private static string MicroTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset? Parse(JsonNode? node) =>
        node?.GetValue<string>() is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "{Identity} is the leader (lease {Namespace}/{Lease})")]
    private static partial void LogLeading(ILogger logger, string identity, string @namespace, string lease);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{Identity} lost the leader lease")]
    private static partial void LogLost(ILogger logger, string identity);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "leader election: {Error}")]
    private static partial void LogError(ILogger logger, string error);
}

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

    /// <summary>
    /// How long a lease is valid without renewal; a standby takes over once it has seen the lease unchanged for this
    /// long. Whole seconds (the Lease's <c>leaseDurationSeconds</c>), at least 1 s. Default 15 s.
    /// </summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long the leader keeps acting after its last successful renewal began. Shorter than
    /// <see cref="LeaseDuration"/>, so that a leader that cannot renew stops acting before a standby may take over.
    /// Default 10 s.
    /// </summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the leader renews. Default 5 s.</summary>
    public TimeSpan RenewPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a standby tries to acquire, and a leader retries a failed renewal. Default 2 s.</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Whether a replica that stops gracefully releases the lease, so a standby takes over at once. Default true.</summary>
    public bool ReleaseOnCancel { get; init; } = true;

    /// <summary>Throws when the durations cannot work together.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Identity, nameof(Identity));
        ArgumentException.ThrowIfNullOrWhiteSpace(Namespace, nameof(Namespace));
        ArgumentException.ThrowIfNullOrWhiteSpace(LeaseName, nameof(LeaseName));
        ArgumentOutOfRangeException.ThrowIfLessThan(LeaseDuration, TimeSpan.FromSeconds(1), nameof(LeaseDuration));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RenewDeadline, TimeSpan.Zero, nameof(RenewDeadline));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(RenewDeadline, LeaseDuration, nameof(RenewDeadline));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RenewPeriod, TimeSpan.Zero, nameof(RenewPeriod));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(RenewPeriod, RenewDeadline, nameof(RenewPeriod));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryPeriod, TimeSpan.Zero, nameof(RetryPeriod));
    }
}

/// <summary>What one round of leader election found.</summary>
public enum LeaseRound
{
    /// <summary>This replica holds the lease (acquired or renewed).</summary>
    Leading,

    /// <summary>Another replica holds a lease that has not expired: this one is a standby.</summary>
    HeldByOther,

    /// <summary>The round could not tell (the API server failed, or a write conflicted): try again soon.</summary>
    Failed,
}

/// <summary>
/// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews it; another replica
/// takes it over once it has observed the same lease record, unchanged, for <c>leaseDurationSeconds</c> on its own
/// clock (so clock skew between replicas does not matter), or at once when the holder released it. Writes carry the
/// resourceVersion read, so two candidates can never both win the same round. The leader acts only until
/// <see cref="LeaderElectionOptions.RenewDeadline"/> after the start of its last successful renewal, which ends
/// before any standby may take over; it stops at once when it sees another holder.
/// </summary>
public sealed partial class LeaderElector
{
    private readonly ResourceClient<JsonObject> _leases;
    private readonly LeaderElectionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private DateTimeOffset _validUntil = DateTimeOffset.MinValue;
    private string? _observedRecord;
    private DateTimeOffset _observedAt;
    private bool _announced;
    private volatile bool _abandoned;

    public LeaderElector(KubeClient client, LeaderElectionOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _leases = client.Resource(KubeResources.Leases);
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>True while this replica holds the lease and is within its renew deadline.</summary>
    public bool IsLeader
    {
        get
        {
            lock (_gate) return _time.GetUtcNow() < _validUntil;
        }
    }

    public string Identity => _options.Identity;

    /// <summary>The holder this replica last saw in the lease (itself when leading), or null.</summary>
    public string? ObservedHolder { get; private set; }

    /// <summary>
    /// Gives up leadership at once without releasing the lease, as a crashed replica would: <see cref="IsLeader"/>
    /// turns false now, and <see cref="RunAsync"/>, once cancelled, leaves the lease for a standby to take over after
    /// it expires.
    /// </summary>
    public void Abandon()
    {
        _abandoned = true;
        lock (_gate) _validUntil = DateTimeOffset.MinValue;
    }

    /// <summary>Acquires and renews until cancelled; on the way out releases the lease when it still holds it (unless <see cref="LeaderElectionOptions.ReleaseOnCancel"/> is false).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && !_abandoned)
        {
            var round = LeaseRound.Failed;
            try
            {
                round = await TryAcquireOrRenewRoundAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpRequestException or KubeApiException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                LogError(_logger, e.Message);
            }
            if (_abandoned) break;
            var leading = IsLeader;
            if (leading && !_announced) LogLeading(_logger, _options.Identity, _options.Namespace, _options.LeaseName);
            else if (!leading && _announced) LogLost(_logger, _options.Identity, ObservedHolder ?? "nobody");
            _announced = leading;
            try
            {
                await Task.Delay(round == LeaseRound.Leading ? _options.RenewPeriod : _options.RetryPeriod, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (_options.ReleaseOnCancel && !_abandoned) await ReleaseAsync();
        lock (_gate) _validUntil = DateTimeOffset.MinValue;
        _announced = false;
    }

    /// <summary>One round: true when this replica holds the lease afterwards.</summary>
    public async Task<bool> TryAcquireOrRenewAsync(CancellationToken cancellationToken) =>
        await TryAcquireOrRenewRoundAsync(cancellationToken) == LeaseRound.Leading;

    /// <summary>One round of acquiring (or renewing) the lease, which updates <see cref="IsLeader"/>.</summary>
    public async Task<LeaseRound> TryAcquireOrRenewRoundAsync(CancellationToken cancellationToken)
    {
        // The renewal counts from before the request: the lease's renewTime, and the leader's deadline, start here.
        var now = _time.GetUtcNow();
        var current = await _leases.GetAsync(_options.Namespace, _options.LeaseName, cancellationToken);
        if (current.IsNotFound)
        {
            var created = await _leases.CreateAsync(Lease(null, now, now, 0), cancellationToken);
            return Won(created, now);
        }
        if (!current.Succeeded)
        {
            LogError(_logger, current.Error!.ToString());
            return LeaseRound.Failed;
        }
        var lease = current.Value;
        var spec = lease["spec"] as JsonObject ?? new JsonObject();
        var holder = spec["holderIdentity"]?.GetValue<string>();
        var duration = TimeSpan.FromSeconds(spec["leaseDurationSeconds"]?.GetValue<int>() ?? (int)_options.LeaseDuration.TotalSeconds);
        var transitions = spec["leaseTransitions"]?.GetValue<int>() ?? 0;
        var mine = holder == _options.Identity;

        // client-go's rule: a lease expires when its record has not changed for its duration on the observer's clock.
        var record = spec.ToJsonString();
        var observedNow = _time.GetUtcNow();
        if (record != _observedRecord)
        {
            _observedRecord = record;
            _observedAt = observedNow;
        }
        ObservedHolder = string.IsNullOrEmpty(holder) ? null : holder;
        if (!mine && !string.IsNullOrEmpty(holder) && _observedAt + duration > observedNow)
        {
            lock (_gate) _validUntil = DateTimeOffset.MinValue;
            return LeaseRound.HeldByOther;
        }
        var acquired = mine ? Parse(spec["acquireTime"]) ?? now : now;
        var next = Lease(KubeJson.ResourceVersion(lease), acquired, now, mine ? transitions : transitions + 1);
        var updated = await _leases.UpdateAsync(next, cancellationToken);
        return Won(updated, now);
    }

    private LeaseRound Won(KubeResult<JsonObject> written, DateTimeOffset start)
    {
        if (!written.Succeeded)
        {
            // A conflict means another replica wrote the lease first; the next round reads who holds it now.
            if (!written.IsConflict && !written.IsAlreadyExists) LogError(_logger, written.Error!.ToString());
            return LeaseRound.Failed;
        }
        _observedRecord = (written.Value["spec"] as JsonObject)?.ToJsonString();
        _observedAt = _time.GetUtcNow();
        ObservedHolder = _options.Identity;
        if (_abandoned) return LeaseRound.Failed;
        lock (_gate) _validUntil = start + _options.RenewDeadline;
        return LeaseRound.Leading;
    }

    /// <summary>Releases the lease now if this replica holds it (an empty holder: another takes it over at once).</summary>
    public async Task ReleaseAsync()
    {
        if (!IsLeader) return;
        lock (_gate) _validUntil = DateTimeOffset.MinValue;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
        try
        {
            // An empty holder lets a standby take over at once instead of after the lease expires.
            var now = MicroTime(_time.GetUtcNow());
            var released = await _leases.UpdateWithRetryAsync(_options.Namespace, _options.LeaseName, l =>
            {
                if (l["spec"]?["holderIdentity"]?.GetValue<string>() != _options.Identity) return null;
                l["spec"]!["holderIdentity"] = null;
                l["spec"]!["renewTime"] = now;
                return l;
            }, timeout.Token);
            if (released.Succeeded) LogReleased(_logger, _options.Identity);
            else LogError(_logger, released.Error!.ToString());
        }
        catch (Exception e) when (e is HttpRequestException or KubeApiException or OperationCanceledException or ObjectDisposedException)
        {
            LogError(_logger, e.Message);
        }
    }

    private JsonObject Lease(string? resourceVersion, DateTimeOffset acquired, DateTimeOffset renewed, int transitions)
    {
        var metadata = new JsonObject { ["name"] = _options.LeaseName, ["namespace"] = _options.Namespace };
        if (resourceVersion is not null) metadata["resourceVersion"] = resourceVersion;
        return new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1",
            ["kind"] = "Lease",
            ["metadata"] = metadata,
            ["spec"] = new JsonObject
            {
                ["holderIdentity"] = _options.Identity,
                ["leaseDurationSeconds"] = (int)Math.Ceiling(_options.LeaseDuration.TotalSeconds),
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

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{Identity} lost the leader lease (holder: {Holder})")]
    private static partial void LogLost(ILogger logger, string identity, string holder);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "leader election: {Error}")]
    private static partial void LogError(ILogger logger, string error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "{Identity} released the leader lease")]
    private static partial void LogReleased(ILogger logger, string identity);
}

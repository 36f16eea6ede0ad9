using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Operator;

/// <summary>Sharding settings: how many shards, and the Leases' namespace, name and timings (those of leader election).</summary>
public sealed record ShardingOptions
{
    /// <summary>How many shards the canaries are split into (one Lease each). More shards than replicas spread them evenly.</summary>
    public required int Shards { get; init; }

    /// <summary>Namespace, name prefix, identity and timings of the Leases (<c>{LeaseName}-shard-{i}</c>, <c>{LeaseName}-replica-{identity}</c>).</summary>
    public required LeaderElectionOptions Lease { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Shards, 1, nameof(Shards));
        Lease.Validate();
    }
}

/// <summary>
/// Splits the canaries between operator replicas with Kubernetes' own coordination, Leases: the canary
/// <c>namespace/name</c> belongs to shard <c>JumpHash(FNV-1a(namespace/name), shards)</c> (a consistent hash: changing the
/// number of shards moves only the canaries it must), and each shard is a Lease held like the leader Lease
/// (<see cref="LeaderElector"/>'s rules: renewed by its holder, taken over once unchanged for its duration, or at
/// once when released). Each replica also holds a Lease of its own (<c>-replica-{identity}</c>) so that the others
/// know how many replicas are alive, and takes at most its fair part, <c>ceil(shards / live replicas)</c>, releasing
/// the rest: three replicas on six shards hold two each; when one dies its shards' Leases expire and the other two
/// take them (three each), and the rollouts go on from their status.
/// </summary>
public sealed partial class ShardCoordinator : ICanaryOwnership
{
    private readonly ShardingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResourceClient<JsonObject> _leases;
    private readonly LeaderElector[] _shards;
    private readonly LeaderElector _member;
    private volatile bool[] _owned;
    private long _stamp;

    public ShardCoordinator(KubeClient client, ShardingOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time;
        _logger = logger;
        _leases = client.Resource(KubeResources.Leases);
        _shards = [.. Enumerable.Range(0, options.Shards).Select(i =>
            new LeaderElector(client, options.Lease with { LeaseName = ShardLease(options.Lease.LeaseName, i) }, time, logger))];
        _member = new LeaderElector(client, options.Lease with { LeaseName = MemberLease(options.Lease.LeaseName, options.Lease.Identity) }, time, logger);
        _owned = new bool[options.Shards];
    }

    public int Shards => _options.Shards;

    public long Stamp => Interlocked.Read(ref _stamp);

    /// <summary>The shards this replica holds now.</summary>
    public IReadOnlyList<int> Owned => [.. Enumerable.Range(0, Shards).Where(i => _shards[i].IsLeader)];

    /// <summary>How many replicas this one last saw alive (itself included).</summary>
    public int LiveReplicas { get; private set; } = 1;

    public bool Owns(string @namespace, string name) => _shards[ShardOf(@namespace, name, Shards)].IsLeader;

    /// <summary>The shard of a canary: a jump consistent hash (Lamping and Veach) of FNV-1a of <c>namespace/name</c>.</summary>
    public static int ShardOf(string @namespace, string name, int shards)
    {
        var key = Fnv1a(@namespace + "/" + name);
        long b = -1, j = 0;
        while (j < shards)
        {
            b = j;
            key = unchecked(key * 2862933555777941757UL + 1);
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }

    public static string ShardLease(string prefix, int shard) => $"{prefix}-shard-{shard.ToString(CultureInfo.InvariantCulture)}";

    public static string MemberLease(string prefix, string identity) => $"{prefix}-replica-{identity}";

    /// <summary>Takes, keeps and gives back shards until cancelled; then releases what it holds (unless the process was killed).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RoundAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                LogError(_logger, e.Message);
            }
            Publish();
            try
            {
                await Task.Delay(_options.Lease.RetryPeriod, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (_options.Lease.ReleaseOnCancel)
        {
            foreach (var shard in _shards) await shard.ReleaseAsync();
            await _member.ReleaseAsync();
        }
        foreach (var shard in _shards) shard.Abandon();
        Publish();
    }

    /// <summary>Gives up every shard at once without releasing the Leases, as a crash would.</summary>
    public void Abandon()
    {
        foreach (var shard in _shards) shard.Abandon();
        _member.Abandon();
        Publish();
    }

    /// <summary>One round: renew this replica's own Lease, count the live replicas, renew or give back held shards, try free ones.</summary>
    public async Task RoundAsync(CancellationToken cancellationToken)
    {
        await _member.TryAcquireOrRenewRoundAsync(cancellationToken);
        var live = await LiveReplicasAsync(cancellationToken);
        LiveReplicas = live;
        var fair = (Shards + live - 1) / live;
        var held = 0;
        // Keep (renew) held shards up to the fair part, in shard order; give back the rest.
        foreach (var shard in _shards.Where(s => s.IsLeader))
        {
            if (held < fair && await shard.TryAcquireOrRenewAsync(cancellationToken)) held++;
            else await shard.ReleaseAsync();
        }
        // Take free or expired shards while under the fair part, starting at a place of this replica's own so that
        // replicas starting together reach for different shards first.
        var first = (int)(Fnv1a(_options.Lease.Identity) % (ulong)Shards);
        for (var k = 0; k < Shards && held < fair; k++)
        {
            var shard = _shards[(first + k) % Shards];
            if (shard.IsLeader) continue;
            if (await shard.TryAcquireOrRenewAsync(cancellationToken)) held++;
        }
    }

    private async Task<int> LiveReplicasAsync(CancellationToken cancellationToken)
    {
        var list = await _leases.ListAsync(_options.Lease.Namespace, new ListOptions(), cancellationToken);
        if (!list.Succeeded)
        {
            LogError(_logger, list.Error!.ToString());
            return LiveReplicas;
        }
        var prefix = MemberLease(_options.Lease.LeaseName, "");
        var now = _time.GetUtcNow();
        var live = list.Value.Items.Count(l =>
            (KubeJson.Name(l) ?? "").StartsWith(prefix, StringComparison.Ordinal)
            && l["spec"]?["holderIdentity"]?.GetValue<string>() is { Length: > 0 }
            && Renewed(l) is { } renewed
            && renewed + TimeSpan.FromSeconds(l["spec"]?["leaseDurationSeconds"]?.GetValue<int>() ?? 15) > now);
        return Math.Max(1, live);
    }

    private static DateTimeOffset? Renewed(JsonObject lease) =>
        lease["spec"]?["renewTime"]?.GetValue<string>() is { } s
        && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    private void Publish()
    {
        var owned = _shards.Select(s => s.IsLeader).ToArray();
        if (owned.SequenceEqual(_owned)) return;
        _owned = owned;
        Interlocked.Increment(ref _stamp);
        LogShards(_logger, _options.Lease.Identity, string.Join(",", Enumerable.Range(0, Shards).Where(i => owned[i])), LiveReplicas);
    }

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash = unchecked(hash * 1099511628211UL);
        }
        return hash;
    }

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "{Identity} holds shards [{Shards}] ({Replicas} replicas alive)")]
    private static partial void LogShards(ILogger logger, string identity, string shards, int replicas);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "sharding: {Error}")]
    private static partial void LogError(ILogger logger, string error);
}

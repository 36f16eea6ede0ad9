using System.Globalization;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Aviary.Kubernetes.Operator;
using Aviary.Kubernetes.Tests.Client;
using Aviary.Kubernetes.Tests.Harness;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Leader election on a real coordination.k8s.io/v1 Lease. Round-by-round tests drive the electors' clocks by hand
/// (the API server's own clock plays no part in the decisions); the RunAsync tests use the system clock with
/// sub-second periods and only wait for outcomes, never assert durations.
/// </summary>
[Collection(KubeCollection.Name)]
public sealed class LeaderElectorTests(KubeApiServerFixture fixture) : IDisposable
{
    private readonly KubeClient _client = new(KubeClientConfig.FromKubeconfig(fixture.Server.AdminKubeconfig));

    private KubeApiServer Server => fixture.Server;

    public void Dispose() => _client.Dispose();

    private static LeaderElectionOptions Options(string ns, string identity, bool release = true) => new()
    {
        Namespace = ns,
        LeaseName = "aviary-leader",
        Identity = identity,
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewDeadline = TimeSpan.FromSeconds(1.5),
        RenewPeriod = TimeSpan.FromMilliseconds(300),
        RetryPeriod = TimeSpan.FromMilliseconds(100),
        ReleaseOnCancel = release,
    };

    private LeaderElector Elector(string ns, string identity, TimeProvider time, KubeClient? client = null, bool release = true) =>
        new(client ?? _client, Options(ns, identity, release), time, NullLogger.Instance);

    private async Task<JsonObject> LeaseAsync(string ns) =>
        (await _client.Resource(KubeResources.Leases).GetAsync(ns, "aviary-leader")).GetValueOrThrow();

    private static string? Holder(JsonObject lease) => lease["spec"]?["holderIdentity"]?.GetValue<string>();

    private static DateTimeOffset Time(JsonObject lease, string field) =>
        DateTimeOffset.Parse(lease["spec"]![field]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    [Fact]
    public async Task Rounds_TwoCandidatesOnOneLease_OnlyOneLeads()
    {
        var ns = await Server.CreateNamespaceAsync("lease-one");
        var clock = new ManualTime();
        var a = Elector(ns, "replica-a", clock);
        var b = Elector(ns, "replica-b", clock);

        Assert.Equal(LeaseRound.Leading, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.True(a.IsLeader);
        Assert.False(b.IsLeader);
        Assert.Equal("replica-a", b.ObservedHolder);

        // The leader keeps renewing; the standby never gets in, however long it tries.
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(500));
            Assert.Equal(LeaseRound.Leading, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
            Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
            Assert.True(a.IsLeader);
            Assert.False(b.IsLeader);
        }
        var lease = await LeaseAsync(ns);
        Assert.Equal("replica-a", Holder(lease));
        Assert.Equal(2, lease["spec"]!["leaseDurationSeconds"]!.GetValue<int>());
        Assert.Equal(0, lease["spec"]!["leaseTransitions"]!.GetValue<int>());
        // acquireTime stays; renewTime follows the renewals.
        Assert.Equal(clock.GetUtcNow() - TimeSpan.FromSeconds(5), Time(lease, "acquireTime"));
        Assert.Equal(clock.GetUtcNow(), Time(lease, "renewTime"));
    }

    [Fact]
    public async Task Rounds_SimultaneousCandidates_ExactlyOneWinsTheWrite()
    {
        var ns = await Server.CreateNamespaceAsync("lease-race");
        var clock = new ManualTime();
        var electors = Enumerable.Range(0, 5).Select(i => Elector(ns, $"replica-{i}", clock)).ToList();
        var rounds = await Task.WhenAll(electors.Select(e => e.TryAcquireOrRenewRoundAsync(CancellationToken.None)));
        Assert.Equal(1, rounds.Count(r => r == LeaseRound.Leading));
        Assert.Equal(1, electors.Count(e => e.IsLeader));
        Assert.Equal(electors.Single(e => e.IsLeader).Identity, Holder(await LeaseAsync(ns)));

        // The losers' next round sees who holds it.
        foreach (var loser in electors.Where(e => !e.IsLeader))
            Assert.Equal(LeaseRound.HeldByOther, await loser.TryAcquireOrRenewRoundAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Rounds_LeaderStopsRenewing_StandbyTakesOverOnlyAfterTheLeaseDuration()
    {
        var ns = await Server.CreateNamespaceAsync("lease-expire");
        var clock = new ManualTime();
        var a = Elector(ns, "replica-a", clock);
        var b = Elector(ns, "replica-b", clock);
        Assert.Equal(LeaseRound.Leading, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));

        // a is killed: no more renewals. Its own deadline (1.5 s) ends before b may take over (2 s).
        clock.Advance(TimeSpan.FromSeconds(1.6));
        Assert.False(a.IsLeader);
        Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        clock.Advance(TimeSpan.FromSeconds(0.3));
        Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.False(b.IsLeader);

        clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(LeaseRound.Leading, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.True(b.IsLeader);
        var lease = await LeaseAsync(ns);
        Assert.Equal("replica-b", Holder(lease));
        Assert.Equal(1, lease["spec"]!["leaseTransitions"]!.GetValue<int>());

        // The old leader comes back: it sees the new holder and stays a standby.
        Assert.Equal(LeaseRound.HeldByOther, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.False(a.IsLeader);
        Assert.Equal("replica-b", a.ObservedHolder);
    }

    [Fact]
    public async Task Rounds_StaleLeaseFoundAtStart_IsObservedForAFullDurationFirst()
    {
        // A standby cannot trust the renewTime written with another replica's clock: it waits a full lease duration
        // from its own first observation, as client-go does.
        var ns = await Server.CreateNamespaceAsync("lease-stale");
        var old = new ManualTime(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.True(await Elector(ns, "long-gone", old).TryAcquireOrRenewAsync(CancellationToken.None));

        var clock = new ManualTime();
        var b = Elector(ns, "replica-b", clock);
        Assert.Equal(LeaseRound.HeldByOther, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(LeaseRound.Leading, await b.TryAcquireOrRenewRoundAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Rounds_AnotherHolderAppears_LeaderStopsAtOnce()
    {
        var ns = await Server.CreateNamespaceAsync("lease-stolen");
        var clock = new ManualTime();
        var a = Elector(ns, "replica-a", clock);
        Assert.True(await a.TryAcquireOrRenewAsync(CancellationToken.None));
        var patched = await _client.Resource(KubeResources.Leases).PatchAsync(ns, "aviary-leader",
            KubePatch.Merge(new JsonObject { ["spec"] = new JsonObject { ["holderIdentity"] = "intruder" } }));
        Assert.True(patched.Succeeded, patched.ToString());
        Assert.True(a.IsLeader);
        Assert.Equal(LeaseRound.HeldByOther, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.False(a.IsLeader);
    }

    [Fact]
    public async Task Rounds_RenewalsFail_LeadershipEndsAtTheRenewDeadline()
    {
        var ns = await Server.CreateNamespaceAsync("lease-fail");
        await Server.ApplyAsync($"""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {"{"}name: leases, namespace: {ns}{"}"}
            rules:
            - apiGroups: [coordination.k8s.io]
              resources: [leases]
              verbs: [get, create, update]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {"{"}name: leases, namespace: {ns}{"}"}
            roleRef: {"{"}apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases{"}"}
            subjects:
            - {"{"}kind: ServiceAccount, name: elector, namespace: {ns}{"}"}
            """);
        var token = await Server.CreateServiceAccountTokenAsync(ns, "elector");
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(Server.WriteKubeconfig("elector-" + ns, token)));
        var clock = new ManualTime();
        var a = Elector(ns, "replica-a", clock, client);
        await Eventually.True(async () => await a.TryAcquireOrRenewAsync(CancellationToken.None), what: "the ServiceAccount acquires the lease");
        Assert.True(a.IsLeader);

        // The API server now refuses the renewals (the binding is gone).
        await Server.KubectlAsync("delete", "rolebinding", "leases", "-n", ns);
        await Eventually.True(async () => (await client.Resource(KubeResources.Leases).GetAsync(ns, "aviary-leader")).Error?.Reason == KubeErrorReason.Forbidden,
            what: "RBAC refuses the ServiceAccount");
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(LeaseRound.Failed, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.True(a.IsLeader); // still within the renew deadline of the last successful renewal
        clock.Advance(TimeSpan.FromSeconds(0.6));
        Assert.False(a.IsLeader);
        Assert.Equal(LeaseRound.Failed, await a.TryAcquireOrRenewRoundAsync(CancellationToken.None));
        Assert.False(a.IsLeader);
    }

    [Fact]
    public void Options_DeadlineNotShorterThanTheLease_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeaderElector(_client,
            Options("x", "a") with { RenewDeadline = TimeSpan.FromSeconds(2) }, TimeProvider.System, NullLogger.Instance));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeaderElector(_client,
            Options("x", "a") with { LeaseDuration = TimeSpan.FromMilliseconds(500), RenewDeadline = TimeSpan.FromMilliseconds(100) },
            TimeProvider.System, NullLogger.Instance));
        Assert.Throws<ArgumentException>(() => new LeaderElector(_client, Options("x", " "), TimeProvider.System, NullLogger.Instance));
    }

    [Fact]
    public async Task Run_LeaderKilled_StandbyTakesOverAfterExpiryAndTheyNeverLeadTogether()
    {
        var ns = await Server.CreateNamespaceAsync("lease-kill");
        // a would release on a graceful stop, but it is killed (Abandon); b is configured never to release.
        var a = Elector(ns, "replica-a", TimeProvider.System);
        var b = Elector(ns, "replica-b", TimeProvider.System, release: false);
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await Eventually.True(() => a.IsLeader, what: "replica-a leads");
        var runB = b.RunAsync(stopB.Token);
        var both = 0;
        using var watch = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!watch.IsCancellationRequested)
            {
                // b first: b only ever gains leadership and a only loses it here, so true then true means together.
                var bLeads = b.IsLeader;
                if (bLeads && a.IsLeader) Interlocked.Increment(ref both);
                await Task.Delay(5, CancellationToken.None);
            }
        }, CancellationToken.None);
        try
        {
            await Eventually.True(() => b.ObservedHolder == "replica-a", what: "replica-b sees replica-a's lease");
            var before = await LeaseAsync(ns);
            Assert.Equal("replica-a", Holder(before));

            // Kill a: it stops renewing and does not release.
            a.Abandon();
            Assert.False(a.IsLeader);
            await stopA.CancelAsync();
            await runA;
            Assert.False(a.IsLeader);
            var last = await LeaseAsync(ns);
            Assert.Equal("replica-a", Holder(last));

            await Eventually.True(() => b.IsLeader, what: "replica-b takes over");
            var after = await LeaseAsync(ns);
            Assert.Equal("replica-b", Holder(after));
            Assert.Equal(1, after["spec"]!["leaseTransitions"]!.GetValue<int>());
            // b took over no earlier than a full lease duration after a's last renewal (one clock on this machine).
            Assert.True(Time(after, "acquireTime") >= Time(last, "renewTime") + TimeSpan.FromSeconds(2),
                $"acquired {Time(after, "acquireTime"):O}, last renewal {Time(last, "renewTime"):O}");
        }
        finally
        {
            await watch.CancelAsync();
            await sampler;
            await stopB.CancelAsync();
            await runB;
        }
        Assert.Equal(0, both);
    }

    [Fact]
    public async Task Run_GracefulStop_ReleasesAndTheStandbyTakesOver()
    {
        var ns = await Server.CreateNamespaceAsync("lease-release");
        // A long lease: the standby can only get it this soon because the leader released it.
        var slow = Options(ns, "replica-a") with
        {
            LeaseDuration = TimeSpan.FromSeconds(600),
            RenewDeadline = TimeSpan.FromSeconds(300),
            RenewPeriod = TimeSpan.FromMilliseconds(300),
        };
        var a = new LeaderElector(_client, slow, TimeProvider.System, NullLogger.Instance);
        var b = new LeaderElector(_client, slow with { Identity = "replica-b" }, TimeProvider.System, NullLogger.Instance);
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await Eventually.True(() => a.IsLeader, what: "replica-a leads");
        var runB = b.RunAsync(stopB.Token);
        try
        {
            await Eventually.True(() => b.ObservedHolder == "replica-a", what: "replica-b sees replica-a's lease");
            await stopA.CancelAsync();
            await runA;
            Assert.False(a.IsLeader);
            await Eventually.True(() => b.IsLeader, what: "replica-b takes over the released lease");
            Assert.Equal("replica-b", Holder(await LeaseAsync(ns)));
        }
        finally
        {
            await stopB.CancelAsync();
            await runB;
        }
        // b released too.
        Assert.Null(Holder(await LeaseAsync(ns)));
    }
}

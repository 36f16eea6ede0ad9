using System.Diagnostics;
using Aviary.Core.Model;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Local.Tests.Workloads;

[Collection("local runtime")]
public sealed class InstanceSetTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "aviary-set-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ProxyServer _router = new(NullLoggerFactory.Instance, TimeProvider.System);
    private readonly HttpClient _probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly StateStore _store;
    private readonly InstanceSet _set;

    public InstanceSetTests()
    {
        Directory.CreateDirectory(_dir);
        _store = StateStore.Open(Path.Combine(_dir, "state.db"));
        _set = new InstanceSet("podinfo.test", "podinfo-primary", BackendRole.Primary, _router, "podinfo.test", _store, _dir,
            TimeProvider.System, NullLogger.Instance, _probe, TimeSpan.FromSeconds(2));
    }

    private static ProcessTemplate Demo(string version, params string[] extra) => new()
    {
        Command = "dotnet",
        Args = [LocalTestBed.DemoDll, "--port", "{port}", "--version", version, .. extra],
        ReadinessProbe = new Probe { HttpGet = new HttpGetAction { Path = "/readyz" } },
        TerminationGracePeriodSeconds = 5,
    };

    private Task WaitAsync(Func<bool> condition, string what) =>
        Eventually.True(condition, TimeSpan.FromSeconds(60), () => string.Join("; ", _set.Snapshot()), what: what);

    [Fact]
    public async Task Reconcile_TwoReplicas_StartsThemAndPublishesReadyEndpoints()
    {
        _set.SetDesired(new InstanceSetSpec(Demo("1.0.0"), "rev1", 2, _dir));
        _set.Start();
        await WaitAsync(() => _set.Readiness(100).Ready, "two ready instances");

        Assert.Equal(2, _set.Snapshot().Count(i => i.State == InstanceState.Ready));
        Assert.Equal(2, _router.GetEndpoints("podinfo.test", BackendRole.Primary).Count);
        Assert.Equal(2, _store.Instances("podinfo.test").Count);
    }

    [Fact]
    public async Task Reconcile_CrashingCommand_RestartsWithBackoffAndReportsWhy()
    {
        var crash = new ProcessTemplate { Command = "/bin/sh", Args = ["-c", "echo boom >&2; exit 3"] };
        _set.SetDesired(new InstanceSetSpec(crash, "rev1", 1, _dir));
        _set.Start();
        await WaitAsync(() => _set.Snapshot().Any(i => i.Restarts >= 2), "two restarts");

        var instance = Assert.Single(_set.Snapshot());
        Assert.Equal("exited with code 3: boom", instance.LastError);
        var readiness = _set.Readiness(100);
        Assert.False(readiness.Ready);
        Assert.Contains("exited with code 3: boom", readiness.Message);
        Assert.Empty(_router.GetEndpoints("podinfo.test", BackendRole.Primary));
    }

    [Fact]
    public async Task Reconcile_NewTemplate_RollsInstancesAndStopsTheOldOnes()
    {
        _set.SetDesired(new InstanceSetSpec(Demo("1.0.0"), "rev1", 1, _dir));
        _set.Start();
        await WaitAsync(() => _set.Readiness(100).Ready, "v1 ready");
        var old = _store.Instances("podinfo.test").Single();

        _set.SetDesired(new InstanceSetSpec(Demo("2.0.0"), "rev2", 1, _dir));
        await WaitAsync(() => _set.Readiness(100).Ready, "v2 ready");
        await WaitAsync(() => !Processes.IsAlive(old.Pid, old.StartTicks), "v1 stopped");

        var now = Assert.Single(_set.Snapshot());
        Assert.Equal("rev2", now.Revision);
        Assert.Equal("rev2", Assert.Single(_store.Instances("podinfo.test")).Revision);
    }

    [Fact]
    public async Task Adopt_LiveProcessFromAPreviousRun_ServesWithoutRestart()
    {
        _set.SetDesired(new InstanceSetSpec(Demo("1.0.0"), "rev1", 1, _dir));
        _set.Start();
        await WaitAsync(() => _set.Readiness(100).Ready, "ready");
        var record = _store.Instances("podinfo.test").Single();

        // A second controller finds the same process and adopts it.
        await using var again = new InstanceSet("podinfo.test", "podinfo-primary", BackendRole.Primary, _router, "podinfo.test", _store, _dir,
            TimeProvider.System, NullLogger.Instance, _probe, TimeSpan.FromSeconds(2));
        again.Adopt(record);
        again.SetDesired(new InstanceSetSpec(Demo("1.0.0"), "rev1", 1, _dir));
        await again.ReconcileAsync(CancellationToken.None);

        Assert.True(again.Readiness(100).Ready);
        Assert.Equal(record.Pid, Assert.Single(again.Snapshot()).Pid);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _set.StopAllAsync(CancellationToken.None);
        await _set.DisposeAsync();
        foreach (var i in _store.Instances()) Processes.Signal(i.Pid, Processes.SIGKILL);
        await _router.DisposeAsync();
        _probe.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using System.Net;
using Aviary.Routing.HAProxy;
using Aviary.Routing.Tests.Contract;

namespace Aviary.Routing.Tests.HAProxy;

/// <summary>The runtime API client against a real HAProxy with a hand-written configuration.</summary>
public sealed class RuntimeApiClientTests
{
    private static string Config(int port) => $"""
        global
          stats socket {"{socket}"} mode 600 level admin
        defaults
          mode http
          timeout connect 5s
          timeout client 30s
          timeout server 30s
        frontend web
          bind 127.0.0.1:{port}
          default_backend app
        backend app
          balance roundrobin
          server blue1 127.0.0.1:8081 weight 40
          server blue2 127.0.0.1:8082 weight 60 disabled
          server-template green 1-2 127.0.0.1:1 disabled
        """;

    private static Task<ManualHAProxy> StartAsync() => ManualHAProxy.StartAsync(Config(ContractCanaries.FreePort()));

    [Fact]
    public async Task ShowStat_Servers_TypedColumns()
    {
        await using var h = await StartAsync();

        var stats = await h.Api.ShowServerStatsAsync("app", CancellationToken.None);

        Assert.True(stats.Succeeded, stats.Error);
        var rows = stats.Value!.ToDictionary(r => r.Name);
        Assert.Equal(["blue1", "blue2", "green1", "green2"], rows.Keys);
        Assert.All(rows.Values, r => Assert.Equal(("app", StatType.Server, 0L), (r.Proxy, r.Type, r.CurrentSessions)));
        Assert.Equal((ServerStatus.Up, "no check", 40, "127.0.0.1:8081"), (rows["blue1"].Status, rows["blue1"].StatusText, rows["blue1"].UserWeight, rows["blue1"].Address));
        Assert.Equal((ServerStatus.Maint, 60), (rows["blue2"].Status, rows["blue2"].UserWeight));
        Assert.Equal("app", rows["green2"].Fields["pxname"]);
    }

    [Fact]
    public async Task ShowStat_Everything_FrontendsBackendsServers()
    {
        await using var h = await StartAsync();

        var stats = await h.Api.ShowStatAsync(null, -1, CancellationToken.None);

        Assert.True(stats.Succeeded, stats.Error);
        Assert.Contains(stats.Value!, r => r is { Proxy: "web", Name: "FRONTEND", Type: StatType.Frontend });
        Assert.Contains(stats.Value!, r => r is { Proxy: "app", Name: "BACKEND", Type: StatType.Backend });
    }

    [Fact]
    public async Task ShowServersState_AdminFlagsWeightsPorts()
    {
        await using var h = await StartAsync();

        var state = await h.Api.ShowServersStateAsync("app", CancellationToken.None);

        Assert.True(state.Succeeded, state.Error);
        var rows = state.Value!.ToDictionary(r => r.Server);
        Assert.Equal((ServerOperationalState.Running, false, 40, 8081), (rows["blue1"].OperationalState, rows["blue1"].InMaintenance, rows["blue1"].UserWeight, rows["blue1"].Port));
        Assert.True(rows["blue2"].InMaintenance);
        Assert.True(rows["blue2"].AdminFlags.HasFlag(ServerAdminFlags.ConfigurationMaintenance));
        Assert.Equal("app", rows["green1"].Backend);
    }

    [Fact]
    public async Task SetServer_AddressWeightState_VisibleInStats()
    {
        await using var h = await StartAsync();

        Assert.True((await h.Api.SetServerAddressAsync("app", "green1", IPAddress.Loopback, 9001, CancellationToken.None)).Succeeded);
        Assert.True((await h.Api.SetServerWeightAsync("app", "green1", 7, CancellationToken.None)).Succeeded);
        Assert.True((await h.Api.SetServerStateAsync("app", "green1", ServerAdminState.Ready, CancellationToken.None)).Succeeded);
        Assert.True((await h.Api.SetServerStateAsync("app", "blue1", ServerAdminState.Drain, CancellationToken.None)).Succeeded);

        var rows = (await h.Api.ShowServerStatsAsync("app", CancellationToken.None)).Value!.ToDictionary(r => r.Name);
        Assert.Equal((ServerStatus.Up, 7, "127.0.0.1:9001"), (rows["green1"].Status, rows["green1"].UserWeight, rows["green1"].Address));
        Assert.Equal(ServerStatus.Drain, rows["blue1"].Status);
        var state = (await h.Api.ShowServersStateAsync("app", CancellationToken.None)).Value!.Single(r => r.Server == "blue1");
        Assert.True(state.Draining);
        Assert.True(state.AdminFlags.HasFlag(ServerAdminFlags.ForcedDrain));
    }

    [Fact]
    public async Task Errors_HAProxyAnswers_AreOutcomes()
    {
        await using var h = await StartAsync();

        var noServer = await h.Api.SetServerStateAsync("app", "nope", ServerAdminState.Ready, CancellationToken.None);
        var noBackend = await h.Api.SetServerWeightAsync("nope", "blue1", 1, CancellationToken.None);
        var noProxy = await h.Api.ShowServerStatsAsync("nope", CancellationToken.None);
        var noStateBackend = await h.Api.ShowServersStateAsync("nope", CancellationToken.None);
        var unknown = await h.Api.ExecuteAsync("frobnicate", CancellationToken.None);

        Assert.Contains("No such server.", noServer.Error, StringComparison.Ordinal);
        Assert.Contains("No such backend.", noBackend.Error, StringComparison.Ordinal);
        Assert.Contains("No such proxy.", noProxy.Error, StringComparison.Ordinal);
        Assert.False(noStateBackend.Succeeded);
        Assert.True(unknown.Succeeded); // the raw answer is HAProxy's text
        Assert.Contains("Unknown command", unknown.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_SocketMissing_IsOutcome()
    {
        var api = new RuntimeApiClient("/tmp/aviary-no-such-dir/haproxy.sock", TimeSpan.FromSeconds(5));

        var info = await api.ShowInfoAsync(CancellationToken.None);
        var set = await api.SetServerStateAsync("app", "blue1", ServerAdminState.Maint, CancellationToken.None);

        Assert.False(info.Succeeded);
        Assert.Contains("/tmp/aviary-no-such-dir/haproxy.sock", info.Error, StringComparison.Ordinal);
        Assert.False(set.Succeeded);
    }

    [Fact]
    public async Task BadArguments_Throw()
    {
        var api = new RuntimeApiClient("/tmp/unused.sock");

        await Assert.ThrowsAsync<ArgumentException>(() => api.SetServerStateAsync("app", "blue1; shutdown sessions", ServerAdminState.Maint, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => api.SetServerWeightAsync("app", "blue1", 257, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => api.ExecuteAsync("show info\nshow stat", CancellationToken.None));
    }

    [Fact]
    public async Task ShowInfo_PidOfTheProcess()
    {
        await using var h = await StartAsync();

        var pid = await h.Api.GetPidAsync(CancellationToken.None);

        Assert.True(pid.Succeeded, pid.Error);
        Assert.Equal(h.Pid, pid.Value);
    }

    [Fact]
    public void ParseStat_NotAStatDump_Null()
    {
        Assert.Null(RuntimeApiClient.ParseStat("No such proxy.\n\n"));
        Assert.Null(RuntimeApiClient.ParseServersState("Can't find backend.\n\n"));
        Assert.Null(RuntimeApiClient.ParseProc("Unknown command.\n"));
    }

    [Fact]
    public void ParseStat_ColumnsByHeaderName()
    {
        var rows = RuntimeApiClient.ParseStat("# pxname,svname,scur,status,weight,uweight,type,addr,new_column\nbe,s1,3,DRAIN,0,12,2,10.0.0.1:80,x\nbe,BACKEND,3,UP,12,,1,,y\n\n")!;

        Assert.Equal(2, rows.Count);
        Assert.Equal(("be", "s1", 3L, ServerStatus.Drain, 0, 12, "10.0.0.1:80"), (rows[0].Proxy, rows[0].Name, rows[0].CurrentSessions, rows[0].Status, rows[0].Weight, rows[0].UserWeight, rows[0].Address));
        Assert.Equal("x", rows[0].Fields["new_column"]);
        Assert.Equal((StatType.Backend, (int?)null), (rows[1].Type, rows[1].UserWeight));
    }

    [Fact]
    public void ParseProc_MasterWorkersOldWorkers()
    {
        const string text = """
            #<PID>          <type>          <reloads>       <uptime>        <version>
            100             master          2 [failed: 1]   0d00h02m07s     2.6.12
            # workers
            120             worker          0               0d00h00m00s     2.6.12
            # old workers
            110             worker          1               0d00h00m43s     2.6.12
            # programs

            """;

        var rows = RuntimeApiClient.ParseProc(text)!;

        Assert.Equal([new ProcessRow(100, "master", 2, 1, false), new ProcessRow(120, "worker", 0, 0, false), new ProcessRow(110, "worker", 1, 0, true)], rows);
    }
}

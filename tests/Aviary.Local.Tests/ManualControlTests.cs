using System.Net;
using Aviary.Cli;
using Aviary.Core.Model;
using Aviary.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Aviary.Local.Tests;

/// <summary>promote, abort, retry, pause and resume through the controller's API and the CLI, end to end.</summary>
[Collection("local runtime")]
public sealed class ManualControlTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private const string SlowAnalysis = """
        interval: 1s
        threshold: 2
        stepWeight: 5
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 3s
        """;

    private static Task<LocalTestBed> StartAsync(string analysis = SlowAnalysis) => LocalTestBed.CreateAsync(async bed =>
    {
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(analysis);
        await bed.StartControllerAsync();
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, Minute);
        bed.StartLoad();
    });

    private static async Task<(int Exit, string Out, string Err)> CliAsync(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        var exit = await CliApp.RunAsync(args, o, e);
        return (exit, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Promote_SlowRollout_FinishesEarly()
    {
        await using var bed = await StartAsync();
        var before = bed.Status!.LastPromotedSpec;
        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute, s => s.Phase == CanaryPhase.Progressing && s.CanaryWeight >= 10, "analysis at 10%");

        var promote = await CliAsync("promote", "podinfo", "-n", "test", "--state", bed.State);
        Assert.True(promote.Exit == 0, promote.Err);
        await bed.WaitForAsync(Minute, s => s.Phase == CanaryPhase.Succeeded && s.LastPromotedSpec != before, "promotion");

        Assert.Contains(bed.Events, e => e.StartsWith("Promote requested by", StringComparison.Ordinal) && e.Contains("(aviary promote) via the API", StringComparison.Ordinal));
        Assert.Contains(bed.Events, e => e.StartsWith("Promotion of podinfo.test requested by", StringComparison.Ordinal));
        Assert.DoesNotContain("Advance podinfo.test canary weight 50", bed.Events);
        Assert.Empty(bed.Traffic!.Failures());
    }

    [Fact]
    public async Task Abort_RolloutUnderWay_RollsBack()
    {
        await using var bed = await StartAsync();
        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute, s => s.Phase == CanaryPhase.Progressing && s.CanaryWeight >= 5, "analysis");

        var abort = await CliAsync("abort", "podinfo", "-n", "test", "--state", bed.State);
        Assert.True(abort.Exit == 0, abort.Err);
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute);

        Assert.Contains(bed.Events, e => e.StartsWith("Rolling back podinfo.test abort requested by", StringComparison.Ordinal));
        Assert.Equal(0, bed.Status!.CanaryWeight);
        Assert.Empty(bed.Controller!.WorkloadOf("podinfo.test")!.Canary.Snapshot());
    }

    [Fact]
    public async Task Retry_FailedRevisionOnceTheFaultIsCleared_Succeeds()
    {
        // The fault: a rollout webhook (say, a dependency check) that fails until it is fixed.
        var healthy = false;
        var port = LocalTestBed.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var hook = builder.Build();
        hook.MapPost("/check", () => healthy ? Results.Ok() : Results.Text("dependency down", statusCode: 503));
        await hook.StartAsync();

        await using var bed = await StartAsync($$"""
            interval: 1s
            threshold: 2
            stepWeight: 25
            maxWeight: 50
            webhooks:
              - name: dependency-check
                url: http://127.0.0.1:{{port}}/check
                timeout: 2s
            """);
        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForPhaseAsync(CanaryPhase.Failed, Minute);
        var failed = bed.Status!.LastAppliedSpec;
        Assert.Contains(bed.Events, e => e.Contains("external check dependency-check failed status 503: dependency down", StringComparison.Ordinal));

        healthy = true;
        var retry = await CliAsync("retry", "podinfo", "-n", "test", "--state", bed.State);
        Assert.True(retry.Exit == 0, retry.Err);
        await bed.WaitForPhaseAsync(CanaryPhase.Succeeded, Minute);

        Assert.Equal(failed, bed.Status!.LastPromotedSpec);
        Assert.Contains(bed.Events, e => e.StartsWith("Retry of podinfo.test requested by", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PauseResume_FreezeAndContinueTheRollout()
    {
        await using var bed = await StartAsync();
        bed.WriteWorkload("--version 2.0.0");
        await bed.WaitForAsync(Minute, s => s.Phase == CanaryPhase.Progressing && s.CanaryWeight >= 5, "analysis");

        Assert.Equal(0, (await CliAsync("pause", "podinfo", "-n", "test", "--state", bed.State)).Exit);
        await bed.WaitForAsync(Minute, _ => bed.Events.Any(e => e.StartsWith("Canary podinfo.test paused by", StringComparison.Ordinal)), "pause");
        var frozen = bed.Status!.CanaryWeight;
        await bed.TicksPassAsync(3);
        Assert.Equal(frozen, bed.Status!.CanaryWeight);

        Assert.Equal(0, (await CliAsync("resume", "podinfo", "-n", "test", "--state", bed.State)).Exit);
        await bed.WaitForPhaseAsync(CanaryPhase.Succeeded, Minute * 2);
    }

    [Theory]
    [InlineData("promote")]
    [InlineData("abort")]
    [InlineData("retry")]
    [InlineData("pause")]
    [InlineData("resume")]
    public async Task Action_WithoutTheToken_IsRefused(string action)
    {
        await using var bed = await StartAsync();
        using var http = new HttpClient { BaseAddress = bed.Controller!.ApiUrl };

        using var anonymous = await http.PostAsync($"/api/v1/canaries/test/podinfo/actions/{action}", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-the-token");
        using var wrong = await http.PostAsync($"/api/v1/canaries/test/podinfo/actions/{action}", null);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.DoesNotContain(bed.Events, e => e.Contains("requested by", StringComparison.Ordinal));

        var token = Local.Controller.ApiToken.Read(bed.State)!;
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var ok = await http.PostAsync($"/api/v1/canaries/test/podinfo/actions/{action}", null);
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(bed.State, "token")));
    }
}

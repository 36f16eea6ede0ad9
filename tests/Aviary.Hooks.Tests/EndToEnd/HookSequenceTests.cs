using System.Collections.Concurrent;
using System.Text;
using Aviary.Core.Model;
using Aviary.Hooks.LoadTester;
using Aviary.Hooks.Webhooks;
using Aviary.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Aviary.Hooks.Tests.EndToEnd;

/// <summary>
/// The scheduler calling real webhooks over HTTP: the order and payloads of every hook type across a rollout,
/// received by a local server; and gates served by the real load tester.
/// </summary>
public sealed class HookSequenceTests
{
    private static async Task<(WebApplication App, ConcurrentQueue<string> Calls, int Port)> ReceiverAsync(Func<string, int> status)
    {
        var calls = new ConcurrentQueue<string>();
        var port = LocalTestBed.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPost("/{hook}", async (string hook, HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            calls.Enqueue($"POST /{hook} {await reader.ReadToEndAsync()}");
            return Results.StatusCode(status(hook));
        });
        await app.StartAsync();
        return (app, calls, port);
    }

    [Fact]
    public async Task Rollout_EveryHookType_CallsThemInOrderWithFlaggersPayload()
    {
        var closed = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal) { ["approve"] = true, ["promote"] = true };
        var (app, calls, port) = await ReceiverAsync(hook => hook == "abort" ? 404 : closed.GetValueOrDefault(hook) ? 403 : 200);
        await using var _ = app;
        using var client = new HttpWebhookClient(TimeProvider.System);
        var h = new SchedulerHarness(SchedulerHarness.Canary($$"""
            interval: 1m
            threshold: 2
            stepWeight: 50
            webhooks:
              - {name: approve, type: confirm-rollout, url: "http://127.0.0.1:{{port}}/approve"}
              - {name: smoke, type: pre-rollout, url: "http://127.0.0.1:{{port}}/smoke", metadata: {suite: smoke} }
              - {name: load-test, type: rollout, url: "http://127.0.0.1:{{port}}/load-test", metadata: {cmd: "hey -z 1m http://podinfo-canary.test:9898/"} }
              - {name: more, type: confirm-traffic-increase, url: "http://127.0.0.1:{{port}}/more"}
              - {name: promote, type: confirm-promotion, url: "http://127.0.0.1:{{port}}/promote"}
              - {name: abort, type: rollback, url: "http://127.0.0.1:{{port}}/abort"}
              - {name: notify, type: post-rollout, url: "http://127.0.0.1:{{port}}/notify"}
              - {name: audit, type: event, url: "http://127.0.0.1:{{port}}/audit"}
            """), client);

        await h.TickAsync();
        h.Workload.NewRevision();
        await h.TickAsync();
        closed["approve"] = false;
        await h.TickAsync();
        await h.TicksAsync(2);
        closed["promote"] = false;
        await h.RunUntilAsync(5, CanaryPhase.Succeeded);

        Golden.Verify(Path.Combine("EndToEnd", "Golden", "hook-sequence.txt"), string.Join("\n", calls) + "\n");
    }

    [Fact]
    public async Task Gates_ConfirmPromotionHoldsUntilOpenedAndRollbackGateRollsBack()
    {
        var state = Path.Combine(Path.GetTempPath(), "aviary-gates-" + Guid.NewGuid().ToString("N")[..8]);
        await using var tester = new LoadTesterServer(new LoadTesterOptions { Port = 0, StateDirectory = state });
        await tester.StartAsync(CancellationToken.None);
        var gate = tester.Address!.ToString().TrimEnd('/');
        using var client = new HttpWebhookClient(TimeProvider.System);
        using var http = new HttpClient();
        var payload = new StringContent("""{"name":"podinfo","namespace":"test"}""", Encoding.UTF8, "application/json");
        try
        {
            var h = new SchedulerHarness(SchedulerHarness.Canary($$"""
                interval: 1m
                threshold: 2
                stepWeight: 50
                webhooks:
                  - {name: gate, type: confirm-promotion, url: "{{gate}}/gate/check"}
                """), client);
            await h.StartRolloutAsync();
            await h.RunUntilAsync(10, CanaryPhase.WaitingPromotion);
            await h.TicksAsync(3);
            Assert.Equal(CanaryPhase.WaitingPromotion, h.Phase);

            (await http.PostAsync($"{gate}/gate/open", payload)).EnsureSuccessStatusCode();
            await h.RunUntilAsync(5, CanaryPhase.Succeeded);

            var r = new SchedulerHarness(SchedulerHarness.Canary($$"""
                interval: 1m
                threshold: 2
                stepWeight: 10
                webhooks:
                  - {name: stop, type: rollback, url: "{{gate}}/rollback/check"}
                """), client);
            await r.StartRolloutAsync();
            await r.TicksAsync(2);
            Assert.Equal((CanaryPhase.Progressing, 20), (r.Phase, r.Status.CanaryWeight));
            (await http.PostAsync($"{gate}/rollback/open", payload)).EnsureSuccessStatusCode();
            await r.TickAsync();
            Assert.Equal(CanaryPhase.Failed, r.Phase);
            Assert.Contains("Rolling back podinfo.test manual webhook invoked", r.Events);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}

using System.Globalization;
using System.Text.Json;
using Aviary.Core.Model;
using Microsoft.Playwright;

namespace Aviary.Dashboard.Tests;

/// <summary>
/// The dashboard as a person uses it: Debian's chromium, driven by Playwright, against a real `aviary run` with a
/// canary under load. The rollout is watched on the overview without reloading, its page has charts with data, a
/// visitor without the token cannot act, and the token holder promotes with confirmation and sees the result.
/// The screenshots in docs/images come from this test (AVIARY_UPDATE_GOLDEN=1 copies them there).
/// </summary>
public sealed class BrowserTests
{
    // The canary climbs to 30% and then waits at a confirm-promotion gate that never opens (nothing listens on its
    // port), so that the only way on is the person's promote, whatever the machine's speed.
    private static string Analysis(int gatePort) => $"""
        interval: 1s
        threshold: 5
        stepWeight: 10
        maxWeight: 30
        judge:
          type: sequential
        metrics:
          - name: request-success-rate
            thresholdRange: {"{"}min: 99{"}"}
            interval: 5s
          - name: request-duration
            thresholdRange: {"{"}max: 1500{"}"}
            interval: 5s
        webhooks:
          - name: release-approval
            type: confirm-promotion
            url: http://127.0.0.1:{gatePort.ToString(CultureInfo.InvariantCulture)}/gate/check
        """;

    [Fact]
    public async Task Dashboard_RolloutUnderLoad_AdvancesLiveChartsHaveDataAndPromoteNeedsTheTokenAndConfirmation()
    {
        await using var bed = new LocalTestBed();
        bed.WriteWorkload("--version 1.0.0");
        bed.WriteCanary(Analysis(LocalTestBed.FreePort()));
        await using var run = await AviaryRun.StartAsync(bed);
        await bed.WaitForPhaseAsync(CanaryPhase.Initialized, TimeSpan.FromMinutes(2));
        bed.StartLoad(concurrency: 2);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync();
        var problems = new List<string>();
        // The browser reports the refusal this test asks for (step 3) as a console error; anything else is a problem.
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("status of 401", StringComparison.Ordinal)) problems.Add(m.Text); };
        page.PageError += (_, e) => problems.Add(e);

        // 1. The overview, opened before the release, shows it advancing without a reload.
        await page.GotoAsync(run.Dashboard.ToString());
        await Eventually.Until(() => RowAsync(page), r => r.Phase == CanaryPhase.Initialized, describe: r => Describe(r, run, problems));
        await page.EvaluateAsync("() => { window.aviaryTestMarker = 'same page'; }");
        bed.WriteWorkload("--version 2.0.0");
        var advancing = await Eventually.Until(() => RowAsync(page), r => r.Weight > 0 && r.Phase == CanaryPhase.Progressing,
            describe: r => Describe(r, run, problems));
        Assert.Equal("same page", await page.EvaluateAsync<string?>("() => window.aviaryTestMarker ?? null"));
        Assert.Matches(@"^\d+/3$", advancing.Step);
        await SaveScreenshotAsync(page, "dashboard-overview.png");

        // 2. The canary's page: the weight timeline, the per-arm (judge) charts and the metric checks have data.
        await Eventually.Until(() => RowAsync(page), r => r.Weight == 30, describe: r => Describe(r, run, problems));
        await page.ClickAsync("[data-canary='test/podinfo'] a");
        var charts = await Eventually.Until(() => ChartsAsync(page),
            c => c.Weight >= 3 && c.Primary >= 2 && c.Canary >= 2 && c.Metrics == 2, describe: c => Task.FromResult($"{c}; {run.Output}"));
        Assert.Equal("same page", await page.EvaluateAsync<string?>("() => window.aviaryTestMarker ?? null"));
        Assert.Contains("release-approval", await page.InnerTextAsync("#hooks"));

        // 3. Without the token: the buttons are disabled and the server refuses the call itself.
        Assert.True(await page.IsDisabledAsync("[data-action='promote']"));
        var refused = await page.EvaluateAsync<JsonElement>("""
            async () => { const r = await fetch('/ui/api/canaries/test/podinfo/actions/promote', { method: 'POST' }); return { status: r.status, body: await r.json() }; }
            """);
        Assert.Equal(401, refused.GetProperty("status").GetInt32());
        Assert.Contains("log in", refused.GetProperty("body").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.NotEqual(CanaryPhase.Succeeded, bed.Phase);

        // 4. Log in with the CLI's token, promote, confirm: the result is shown and the rollout finishes.
        await page.ClickAsync("#login-open");
        await page.FillAsync("#login-token", run.Token);
        await page.ClickAsync("#login-submit");
        await Eventually.True(async () => await page.IsVisibleAsync("#user") && !await page.IsDisabledAsync("[data-action='promote']"),
            describe: () => page.InnerTextAsync("header"));
        await page.ClickAsync("[data-action='promote']");
        Assert.Contains("Promote test/podinfo?", await page.InnerTextAsync("#confirm"), StringComparison.Ordinal);
        Assert.Contains("the canary's revision is copied to the primary", await page.InnerTextAsync("#confirm-text"), StringComparison.Ordinal);
        await page.ClickAsync("#confirm-ok");
        await Eventually.True(async () => (await page.InnerTextAsync("main")).Contains("promote requested by the token holder via the dashboard", StringComparison.Ordinal),
            describe: () => page.InnerTextAsync("main"));
        await Eventually.Until(() => page.EvaluateAsync<string?>("() => document.querySelector('#title .badge')?.dataset.phase ?? null"),
            p => p == CanaryPhase.Succeeded, describe: p => Task.FromResult($"{p}; {run.Output}"));
        Assert.Contains(bed.Events, e => e == "Promote requested by the token holder via the dashboard");
        Assert.Contains(bed.Events, e => e.StartsWith("Promotion of podinfo.test requested by the token holder via the dashboard", StringComparison.Ordinal));
        Assert.Contains("Succeeded", await page.InnerTextAsync("#releases"));
        await SaveScreenshotAsync(page, "dashboard-canary.png", fullPage: true);

        await page.ClickAsync("a[href='/ui/']");
        await Eventually.Until(() => RowAsync(page), r => r.Phase == CanaryPhase.Succeeded, describe: r => Describe(r, run, problems));
        Assert.Empty(problems);
    }

    private sealed record Row(string? Phase, int Weight, string? Step);

    private static async Task<Row> RowAsync(IPage page)
    {
        var row = await page.EvaluateAsync<JsonElement>("""
            () => {
              const tr = document.querySelector("[data-canary='test/podinfo']");
              if (!tr) return null;
              return { phase: tr.querySelector('[data-phase]')?.dataset.phase ?? null, weight: Number(tr.querySelector('[data-weight]')?.dataset.weight ?? -1),
                       step: tr.children[4]?.textContent ?? null };
            }
            """);
        return row.ValueKind == JsonValueKind.Null ? new Row(null, -1, null)
            : new Row(row.GetProperty("phase").GetString(), row.GetProperty("weight").GetInt32(), row.GetProperty("step").GetString());
    }

    /// <summary>Points of the weight timeline and of the success-rate arms; how many judged metrics have a chart.</summary>
    private sealed record Charts(int Weight, int Primary, int Canary, int Metrics);

    private static async Task<Charts> ChartsAsync(IPage page)
    {
        var c = await page.EvaluateAsync<JsonElement>("""
            () => {
              const n = sel => Number(document.querySelector(sel)?.dataset.points ?? 0);
              return { weight: n("#timeline path.series"), primary: n(".arm-chart[data-metric='request-success-rate'] path[data-series='primary']"),
                       canary: n(".arm-chart[data-metric='request-success-rate'] path[data-series='canary']"),
                       metrics: document.querySelectorAll(".arm-chart path[data-series='canary']").length };
            }
            """);
        return new Charts(c.GetProperty("weight").GetInt32(), c.GetProperty("primary").GetInt32(), c.GetProperty("canary").GetInt32(), c.GetProperty("metrics").GetInt32());
    }

    private static Task<string> Describe(Row row, AviaryRun run, List<string> problems) =>
        Task.FromResult($"{row}; page errors: [{string.Join("; ", problems)}]; aviary run: {run.Output}");

    private static async Task SaveScreenshotAsync(IPage page, string name, bool fullPage = false)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage });
        if (Environment.GetEnvironmentVariable("AVIARY_UPDATE_GOLDEN") == "1")
            File.Copy(path, Path.Combine(RepoPaths.Root, "docs", "images", name), overwrite: true);
    }
}

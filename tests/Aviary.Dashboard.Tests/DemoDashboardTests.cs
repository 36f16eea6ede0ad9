using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Aviary.Local.Workloads;

namespace Aviary.Dashboard.Tests;

/// <summary>
/// The acceptance check a new user makes: `aviary demo` prints a URL first, and opening it shows the rollout advancing
/// live (the page is never reloaded; the weights it showed are recorded in the page as they change).
/// </summary>
public sealed partial class DemoDashboardTests
{
    [GeneratedRegex(@"^Dashboard: (http://127\.0\.0\.1:\d+/ui/) ")]
    private static partial Regex DashboardLine();

    [Fact]
    public async Task Demo_PrintsTheDashboardUrl_WhichShowsTheRolloutAdvancingLive()
    {
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync();
        var state = Path.Combine(Path.GetTempPath(), "aviary-demo-ui-" + Guid.NewGuid().ToString("N")[..8]);
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "aviary.dll"), "demo", "--fast", "--port", "0", "--state", state }) info.ArgumentList.Add(a);
        using var demo = Process.Start(info)!;
        var lines = new ConcurrentQueue<string>();
        demo.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        demo.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue("stderr: " + e.Data); };
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        try
        {
            var first = await Eventually.Until(() => lines.FirstOrDefault(), l => l is not null, describe: _ => string.Join("\n", lines));
            var url = DashboardLine().Match(first!);
            Assert.True(url.Success, $"the demo's first line is not the dashboard's address: {first}");
            await page.GotoAsync(url.Groups[1].Value);
            // Every weight the overview shows, as it shows it: recorded by the page itself, without reloading.
            await page.EvaluateAsync("""
                () => {
                  window.aviarySeen = [];
                  setInterval(() => {
                    const w = document.querySelector("[data-canary='demo/podinfo'] [data-weight]")?.dataset.weight;
                    if (w !== undefined && window.aviarySeen[window.aviarySeen.length - 1] !== w) window.aviarySeen.push(w);
                  }, 50);
                }
                """);
            var seen = await Eventually.Until(() => page.EvaluateAsync<string[]>("() => window.aviarySeen"),
                s => s.Any(w => w != "0"), describe: s => Task.FromResult($"weights seen [{string.Join(",", s)}]; demo: {string.Join("\n", lines)}"));
            Assert.Contains(seen, w => int.Parse(w, System.Globalization.CultureInfo.InvariantCulture) > 0);
            await Eventually.True(() => demo.HasExited, TimeSpan.FromMinutes(5), () => string.Join("\n", lines));
            Assert.True(demo.ExitCode == 0, string.Join("\n", lines));
        }
        finally
        {
            if (!demo.HasExited)
            {
                Processes.Signal(demo.Id, Processes.SIGTERM);
                if (!demo.WaitForExit(TimeSpan.FromSeconds(30))) demo.Kill(entireProcessTree: true);
            }
            try
            {
                Directory.Delete(state, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

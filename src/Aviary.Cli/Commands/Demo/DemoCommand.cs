using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Aviary.Core.Model;
using Aviary.Hooks.LoadTester;
using Aviary.Local.Controller;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Aviary.Cli.Commands.Demo;

/// <summary>
/// <c>aviary demo</c>: the whole story on one machine. The demo service v1 runs behind the built-in router under
/// steady load; v2 (healthy) is released and promoted; v3 (20% errors) is released and rolled back.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var fast = new Option<bool>("--fast") { Description = "1–2 s analysis intervals: the whole demo ends in about a minute." };
        var state = new Option<string>("--state")
        {
            Description = "Where the demo keeps its manifests, state and logs (wiped at start).",
            DefaultValueFactory = _ => ".aviary-demo",
        };
        var port = new Option<int>("--port") { Description = "Port of the router (the service's address); 0 picks a free one.", DefaultValueFactory = _ => 9898 };
        var command = new Command("demo", """
            Run a live canary release on this machine: start the controller, the demo service v1 behind the built-in
            router and steady load; roll out v2 (healthy) to promotion, then v3 (20% errors) to rollback; print a
            summary per release. Exit 0 when v2 is promoted without a failed request and v3 is rolled back.

            Example:
              aviary demo --fast
            """) { fast, state, port };
        command.SetAction(async (parse, ct) =>
        {
            var demo = new DemoRun(io, time, parse.GetValue(fast), Path.GetFullPath(parse.GetValue(state)!), parse.GetValue(port));
            return await demo.RunAsync(ct);
        });
        return command;
    }

    private sealed record Release(string Name, string Version, string Color, double ErrorRate, string Expect);

    private sealed record ReleaseResult(Release Release, string Outcome, TimeSpan Duration, long Requests, long Failed, bool AsExpected);

    private sealed class DemoRun(CliIO io, TimeProvider time, bool fast, string stateDir, int requestedPort)
    {
        private readonly List<RequestResult> _results = [];
        private readonly LiveView _view = new();
        private readonly bool _interactive = !Console.IsOutputRedirected;

        private string Manifests => Path.Combine(stateDir, "manifests");

        public async Task<int> RunAsync(CancellationToken ct)
        {
            var demoDll = Path.Combine(AppContext.BaseDirectory, "Aviary.Demo.dll");
            if (!File.Exists(demoDll))
            {
                await io.Error.WriteLineAsync($"aviary demo: the demo service is missing ({demoDll}); rebuild with ./aviary");
                return 1;
            }
            CleanPreviousRun();
            var port = requestedPort == 0 || !PortIsFree(requestedPort) ? Processes.FreePort() : requestedPort;
            WriteManifests(demoDll, port, new Release("v1", "1.0.0", "#34577c", 0, ""));

            using var loggers = LoggerFactory.Create(b => b.AddProvider(new FileLoggerProvider(Path.Combine(stateDir, "controller.log"), time)));
            await using var controller = new LocalController(new LocalControllerOptions
            {
                Paths = [Manifests],
                StateDir = Path.Combine(stateDir, "state"),
                ApiAddress = "127.0.0.1:0",
                PollInterval = TimeSpan.FromMilliseconds(200),
                DrainTimeout = TimeSpan.FromSeconds(5),
            }, time, loggers);
            controller.Ticked += _view.Update;
            controller.Problem += Note;
            if (!_interactive) controller.Ticked += u => { foreach (var e in u.Outcome.Events) io.Out.WriteLine($"  {e.Time.ToLocalTime():HH:mm:ss} {e.Message}"); };

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var results = new List<ReleaseResult>();
            try
            {
                await controller.StartAsync(stop.Token);
                if (controller.DashboardUrl is { } ui)
                    await io.Out.WriteLineAsync($"Dashboard: {ui} (the rollout, live; log in with the token in {Path.Combine(controller.StateDir, "token")} to act)");
                var story = StoryAsync(controller, demoDll, port, results, stop.Token);
                if (_interactive)
                {
                    await AnsiConsole.Live(_view.Render()).AutoClear(false).StartAsync(async ctx =>
                    {
                        while (!story.IsCompleted)
                        {
                            ctx.UpdateTarget(_view.Render());
                            await Task.WhenAny(story, Task.Delay(TimeSpan.FromMilliseconds(250), time, CancellationToken.None));
                        }
                        ctx.UpdateTarget(_view.Render());
                    });
                }
                await story;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await io.Out.WriteLineAsync("demo interrupted");
            }
            catch (Exception e) when (e is ControllerException or TimeoutException)
            {
                await io.Error.WriteLineAsync($"aviary demo: {e.Message}");
                await controller.StopAsync();
                return 1;
            }
            await io.Out.WriteLineAsync("stopping the demo: draining and stopping every instance...");
            await controller.StopAsync();
            WriteSummary(results);
            return results.Count == 2 && results.All(r => r.AsExpected) ? 0 : 1;
        }

        private async Task StoryAsync(LocalController controller, string demoDll, int port, List<ReleaseResult> results, CancellationToken ct)
        {
            var store = controller.Store;
            Say($"Starting podinfo v1.0.0 behind the router on http://127.0.0.1:{port}/ ...");
            await WaitAsync(store, s => s.Phase == CanaryPhase.Initialized, TimeSpan.FromMinutes(2), "the primary to start", ct);

            var options = new LoadOptions
            {
                Url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/"),
                Concurrency = 4,
                RateLimit = 25,
                Steady = true,
                Timeout = TimeSpan.FromSeconds(10),
            };
            using var loadStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var load = new LoadGenerator(options, time).RunAsync(new Recorder(_results), loadStop.Token);
            Say("Steady load: 4 clients, about 100 requests/s through the router.");
            await Task.Delay(TimeSpan.FromSeconds(2), time, ct);

            var releases = new[]
            {
                new Release("v2", "2.0.0", "#2e8b57", 0, CanaryPhase.Succeeded),
                new Release("v3", "3.0.0", "#b22222", 0.2, CanaryPhase.Failed),
            };
            foreach (var release in releases)
            {
                var before = store.LoadStatus("podinfo.demo");
                Say(release.ErrorRate > 0
                    ? $"Releasing {release.Name} ({release.Version}), which answers {(release.ErrorRate * 100).ToString("0", CultureInfo.InvariantCulture)}% of requests with 500..."
                    : $"Releasing {release.Name} ({release.Version}), a healthy release...");
                var started = time.GetUtcNow();
                WriteManifests(demoDll, port, release);
                var status = await WaitAsync(store, s => s.LastAppliedSpec != before?.LastAppliedSpec && s.Phase is CanaryPhase.Succeeded or CanaryPhase.Failed,
                    TimeSpan.FromMinutes(fast ? 3 : 10), $"{release.Name} to be promoted or rolled back", ct);
                // Count the requests of this release until its last instance is gone.
                await controller.WorkloadOf("podinfo.demo")!.Canary.WaitEmptyAsync(TimeSpan.FromSeconds(30), ct);
                var ended = time.GetUtcNow();
                List<RequestResult> window;
                lock (_results) window = _results.Where(r => r.CompletedAt >= started && r.CompletedAt <= ended).ToList();
                var failed = window.Count(r => r.IsFailure);
                var outcome = status.Phase == CanaryPhase.Succeeded ? "promoted" : "rolled back";
                var asExpected = status.Phase == release.Expect && (release.Expect != CanaryPhase.Succeeded || failed == 0);
                results.Add(new ReleaseResult(release, outcome, ended - started, window.Count, failed, asExpected));
                Say($"{release.Name}: {outcome} after {Seconds(ended - started)}, {window.Count} requests, {failed} failed.");
                await Task.Delay(TimeSpan.FromSeconds(fast ? 1 : 3), time, ct);
            }
            await loadStop.CancelAsync();
            await load;
        }

        private async Task<CanaryStatus> WaitAsync(StateStore store, Func<CanaryStatus, bool> done, TimeSpan timeout, string what, CancellationToken ct)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < timeout)
            {
                if (store.LoadStatus("podinfo.demo") is { } s && done(s)) return s;
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct);
            }
            throw new TimeoutException($"timed out waiting for {what}; see {Path.Combine(stateDir, "controller.log")}");
        }

        private void WriteManifests(string demoDll, int port, Release release)
        {
            Directory.CreateDirectory(Manifests);
            var interval = fast ? "1s" : "5s";
            var window = fast ? "4s" : "20s";
            var yaml = $$"""
                # Written by `aviary demo`: the demo service as a Workload, and a Canary that releases it.
                apiVersion: aviary.dev/v1alpha1
                kind: Workload
                metadata:
                  name: podinfo
                  namespace: demo
                spec:
                  replicas: 2
                  template:
                    command: dotnet
                    args: ["{{demoDll}}", "--port", "{port}", "--version", "{{release.Version}}", "--color", "{{release.Color}}", "--error-rate", "{{release.ErrorRate.ToString(CultureInfo.InvariantCulture)}}", "--latency", "5ms", "--latency-jitter", "4ms"]
                    readinessProbe:
                      httpGet:
                        path: /readyz
                      periodSeconds: 1
                    terminationGracePeriodSeconds: 5
                ---
                apiVersion: flagger.app/v1beta1
                kind: Canary
                metadata:
                  name: podinfo
                  namespace: demo
                spec:
                  targetRef:
                    apiVersion: aviary.dev/v1alpha1
                    kind: Workload
                    name: podinfo
                  progressDeadlineSeconds: 60
                  service:
                    port: {{port}}
                  analysis:
                    interval: {{interval}}
                    threshold: {{(fast ? 3 : 5)}}
                    stepWeight: {{(fast ? 20 : 10)}}
                    maxWeight: 50
                    metrics:
                      - name: request-success-rate
                        thresholdRange:
                          min: 99
                        interval: {{window}}
                      - name: request-duration
                        thresholdRange:
                          max: 500
                        interval: {{window}}
                    judge:
                      type: sequential
                """;
            AtomicFile.Write(Path.Combine(Manifests, "podinfo.yaml"), yaml);
        }

        private void CleanPreviousRun()
        {
            var db = Path.Combine(stateDir, "state", "state.db");
            if (File.Exists(db))
            {
                // A demo that was killed may have left instances running: stop them before starting over.
                foreach (var i in StateStore.Open(db).Instances().Where(i => Processes.IsAlive(i.Pid, i.StartTicks)))
                    Processes.Signal(i.Pid, Processes.SIGKILL);
                StateStore.CloseAll();
            }
            if (Directory.Exists(stateDir)) Directory.Delete(stateDir, recursive: true);
            Directory.CreateDirectory(stateDir);
        }

        private void WriteSummary(List<ReleaseResult> results)
        {
            io.Out.WriteLine();
            io.Out.WriteLine("Summary");
            var rows = new List<string[]> { new[] { "RELEASE", "VERSION", "OUTCOME", "TIME", "REQUESTS", "FAILED", "EXPECTED" } };
            rows.AddRange(results.Select(r => new[]
            {
                r.Release.Name, r.Release.Version, r.Outcome, Seconds(r.Duration), r.Requests.ToString(CultureInfo.InvariantCulture),
                r.Failed.ToString(CultureInfo.InvariantCulture),
                r.AsExpected ? "yes" : r.Release.Expect == CanaryPhase.Succeeded ? "no (must be promoted with 0 failed requests)" : "no (must be rolled back)",
            }));
            Tables.Write(io.Out, rows);
            io.Out.WriteLine($"Logs: {Path.Combine(stateDir, "controller.log")}; events: ./aviary events --state {Path.Combine(stateDir, "state")}");
        }

        private void Say(string line)
        {
            _view.Title = line;
            if (!_interactive) io.Out.WriteLine(line);
        }

        private void Note(string line)
        {
            _view.Note(line);
            if (!_interactive) io.Error.WriteLine(line);
        }

        private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";

        private static bool PortIsFree(int port)
        {
            try
            {
                using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                l.Start();
                return true;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return false;
            }
        }
    }

    /// <summary>Keeps every request's result (the load generator reports each one as it completes).</summary>
    private sealed class Recorder(List<RequestResult> results) : IProgress<RequestResult>
    {
        public void Report(RequestResult value)
        {
            lock (results) results.Add(value);
        }
    }
}

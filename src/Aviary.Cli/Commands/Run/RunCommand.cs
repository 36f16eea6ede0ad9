using System.CommandLine;
using Aviary.Local.Controller;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Aviary.Cli.Commands.Run;

/// <summary><c>aviary run -f DIR|FILE</c>: the local controller in the foreground.</summary>
internal static class RunCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var files = new Option<string[]>("--file", "-f")
        {
            Description = "Manifest files or folders (Canary, Workload, MetricTemplate, AlertProvider). Repeatable; watched for changes.",
            Required = true,
        };
        var state = CommonOptions.State();
        var api = new Option<string>("--api") { Description = "Address of the controller API (loopback).", DefaultValueFactory = _ => "127.0.0.1:8484" };
        var output = CommonOptions.Output("text: a live view per canary; json: one JSON log line per event, for machines");
        var metricsServer = CommonOptions.MetricsServer("Prometheus for canaries without spec.metricsServer (default: the router's own counters).");
        var haproxyMetrics = new Option<int?>("--haproxy-metrics-port") { Description = "Serve the Prometheus exporter of the HAProxy Aviary runs for provider: haproxy on this loopback port." };
        var signFile = new Option<string?>("--webhook-secret-file") { Description = "Sign webhook calls (X-Aviary-Signature, HMAC-SHA256) with the secret in this file." };
        var signEnv = new Option<string?>("--webhook-secret-env") { Description = "Sign webhook calls with the secret in this environment variable." };
        var noDashboard = new Option<bool>("--no-dashboard") { Description = "Do not serve the web dashboard (/ui/ on the API's address)." };
        var readOnly = new Option<bool>("--dashboard-read-only") { Description = "Serve the dashboard without actions: no buttons, and the calls are refused." };
        var anonymous = new Option<string>("--dashboard-anonymous")
        {
            Description = "What the dashboard shows without the token: view (read-only) or none (log in first).",
            DefaultValueFactory = _ => "view",
        }.AcceptOnlyFromAmong("view", "none");
        var command = new Command("run", """
            Run the local controller in the foreground: start each Canary's primary, put the built-in router on its
            service port, and run the analysis whenever the Workload changes. Edit the files (or `aviary apply`)
            to release a new version. Ctrl-C stops everything it started.

            Example:
              aviary run -f examples/local/
            The dashboard is on the API's address at /ui/: read-only without the token, and acting (promote,
            abort, …) once logged in with the token in STATE/token.
            """) { files, state, api, output, metricsServer, haproxyMetrics, signFile, signEnv, noDashboard, readOnly, anonymous };
        command.SetAction(async (parse, ct) =>
        {
            var paths = parse.GetValue(files) ?? [];
            foreach (var p in paths.Where(p => !File.Exists(p) && !Directory.Exists(p)))
            {
                await io.Error.WriteLineAsync($"{p}: no such file or folder");
                return 1;
            }
            var json = parse.GetValue(output) == "json";
            var stateDir = parse.GetValue(state)!;
            using var loggers = json
                ? LoggerFactory.Create(b => b.AddJsonConsole(o => o.IncludeScopes = false).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning))
                : LoggerFactory.Create(b => b.AddProvider(new FileLoggerProvider(Path.Combine(stateDir, "controller.log"), time)));
            var signing = parse.GetValue(signFile) is null && parse.GetValue(signEnv) is null
                ? null
                : new Aviary.Hooks.Webhooks.WebhookSigning { SecretFile = parse.GetValue(signFile), SecretEnvironmentVariable = parse.GetValue(signEnv) };
            var dashboard = parse.GetValue(noDashboard) ? null : new Aviary.Dashboard.DashboardOptions
            {
                ReadOnly = parse.GetValue(readOnly),
                Anonymous = parse.GetValue(anonymous) == "none" ? Aviary.Dashboard.AnonymousAccess.None : Aviary.Dashboard.AnonymousAccess.View,
            };
            var options = new LocalControllerOptions
            {
                Paths = paths, StateDir = stateDir, ApiAddress = parse.GetValue(api)!, WebhookSigning = signing,
                MetricsServer = parse.GetValue(metricsServer), HAProxyMetricsPort = parse.GetValue(haproxyMetrics), Dashboard = dashboard,
            };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                await using var controller = new LocalController(options, time, loggers);
                if (json) return await RunHeadlessAsync(controller, stop.Token);
                return await RunLiveAsync(io, controller, stop.Token);
            }
            catch (ControllerException e)
            {
                await io.Error.WriteLineAsync($"aviary run: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunHeadlessAsync(LocalController controller, CancellationToken ct)
    {
        await controller.RunAsync(ct);
        return 0;
    }

    private static async Task<int> RunLiveAsync(CliIO io, LocalController controller, CancellationToken ct)
    {
        var view = new LiveView();
        controller.Ticked += view.Update;
        controller.Problem += view.Note;
        await controller.StartAsync(ct);
        view.Title = $"Aviary local controller — API {controller.ApiUrl}, state {controller.StateDir} (Ctrl-C stops)";
        if (controller.DashboardUrl is { } ui) await io.Out.WriteLineAsync($"Dashboard: {ui} (log in with the token in {Path.Combine(controller.StateDir, "token")} to act)");
        try
        {
            if (Console.IsOutputRedirected)
            {
                controller.Ticked += u =>
                {
                    foreach (var e in u.Outcome.Events) io.Out.WriteLine($"{e.Time:HH:mm:ss} {u.Policy.Id} {e.Type}: {e.Message}");
                };
                controller.Problem += line => io.Error.WriteLine(line);
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }
            else
            {
                await AnsiConsole.Live(view.Render()).AutoClear(false).StartAsync(async ctx =>
                {
                    while (!ct.IsCancellationRequested)
                    {
                        ctx.UpdateTarget(view.Render());
                        try
                        {
                            await Task.Delay(250, ct);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                });
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        await io.Out.WriteLineAsync("stopping: draining and stopping every instance...");
        await controller.StopAsync();
        return 0;
    }
}

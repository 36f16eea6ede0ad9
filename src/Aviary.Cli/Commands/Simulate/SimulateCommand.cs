using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Policy;
using Aviary.Core.Simulation;
using Aviary.Core.Validation;

namespace Aviary.Cli.Commands.Simulate;

/// <summary><c>aviary simulate -f canary.yaml [--scenario s.yaml]</c>: rehearses a rollout in virtual time.</summary>
internal static class SimulateCommand
{
    public const int ExitSucceeded = 0, ExitFailed = 1, ExitOutOfTicks = 2, ExitInvalid = 3;

    public static Command Create(CliIO io)
    {
        var file = new Option<string>("--file", "-f") { Description = "The Canary manifest (other documents in the file are ignored).", Required = true };
        var scenarioOption = new Option<string?>("--scenario", "-s")
        {
            Description = "Scenario YAML: ticks, revisions, metrics, webhooks, ready. Default: one revision at tick 1, everything passing.",
        };
        var output = new Option<string>("--output", "-o") { Description = "text (a table) or json (one object per tick)", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var command = new Command("simulate", """
            Run the real scheduler against a simulated workload, router, metrics and webhooks in virtual time,
            printing one line per tick. Exit 0 when the run ends Succeeded, 1 when it ends Failed, 2 when the
            ticks run out first, 3 on invalid input.

            Example:
              aviary simulate -f examples/podinfo-istio.yaml --scenario examples/scenarios/bad-release.yaml
            """) { file, scenarioOption, output };
        command.SetAction(async (parse, ct) =>
        {
            var json = parse.GetValue(output) == "json";
            var policy = await LoadCanaryAsync(io, parse.GetValue(file)!, ct);
            if (policy is null) return ExitInvalid;
            var scenario = await LoadScenarioAsync(io, parse.GetValue(scenarioOption), ct);
            if (scenario is null) return ExitInvalid;

            var simulator = new Simulator(policy, scenario);
            var table = new TickTable(io.Out);
            if (!json) await table.HeaderAsync(policy);
            await foreach (var tick in simulator.RunAsync(ct))
            {
                if (json) await io.Out.WriteLineAsync(JsonSerializer.Serialize(ToJson(tick), ModelJson.Options));
                else await table.RowAsync(tick);
            }
            if (!json) await io.Out.WriteLineAsync(Summary(simulator.Result));
            return simulator.Result switch
            {
                SimulationResult.Succeeded => ExitSucceeded,
                SimulationResult.Failed => ExitFailed,
                _ => ExitOutOfTicks,
            };
        });
        return command;
    }

    private static string Summary(SimulationResult result) => result switch
    {
        SimulationResult.Succeeded => "Result: Succeeded",
        SimulationResult.Failed => "Result: Failed",
        _ => "Result: ticks ran out before the rollout ended",
    };

    private static async Task<CanaryPolicy?> LoadCanaryAsync(CliIO io, string path, CancellationToken ct)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await io.Error.WriteLineAsync($"{path}: cannot read: {e.Message}");
            return null;
        }
        var manifests = ManifestReader.Read(text, path);
        if (manifests.SyntaxError is { } syntax)
        {
            await io.Error.WriteLineAsync($"{path}: {syntax}");
            return null;
        }
        var canaries = manifests.Documents.Where(d => d.Kind == Core.Model.Canary.KindName).ToList();
        var invalid = false;
        foreach (var doc in canaries)
            invalid |= await DiagnosticLines.WriteAsync(io.Error, path, doc);
        if (invalid) return null;
        if (canaries.Count != 1)
        {
            await io.Error.WriteLineAsync($"{path}: expected exactly one Canary, found {canaries.Count}");
            return null;
        }
        return (CanaryPolicy)canaries[0].Compiled!;
    }

    private static async Task<Scenario?> LoadScenarioAsync(CliIO io, string? path, CancellationToken ct)
    {
        if (path is null) return Scenario.Default;
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await io.Error.WriteLineAsync($"{path}: cannot read: {e.Message}");
            return null;
        }
        var (scenario, diagnostics) = ScenarioReader.Read(text);
        foreach (var d in diagnostics)
            await io.Error.WriteLineAsync($"{path}: {(d.IsError ? "" : "warning: ")}{d}");
        return scenario;
    }

    private static object ToJson(SimulatedTick t) => new
    {
        tick = t.Tick,
        time = t.Time.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        phase = t.Status.Phase,
        canaryWeight = t.Routes.Canary,
        primaryWeight = t.Routes.Primary,
        mirrored = t.Routes.Mirrored,
        failedChecks = t.Status.FailedChecks,
        iterations = t.Status.Iterations,
        newRevision = t.NewRevision,
        events = t.Events.Select(e => e.Message),
        checks = t.Checks.Select(c => new { kind = c.Kind, name = c.Name, value = c.Value, result = c.Result.ToString().ToLowerInvariant() }),
    };

    /// <summary>A readable table, one row per tick.</summary>
    private sealed class TickTable(TextWriter output)
    {
        public Task HeaderAsync(CanaryPolicy policy) =>
            output.WriteLineAsync($"Simulating {policy.Id}: {policy.Strategy}, interval {Core.Primitives.GoDuration.Format(policy.Interval)}, threshold {policy.Threshold}\n" +
                $"{"TICK",4}  {"TIME",-8}  {"PHASE",-16}  {"CANARY",6}  {"PRIMARY",7}  {"FAILED",6}  {"ITER",4}  EVENTS");

        public Task RowAsync(SimulatedTick t)
        {
            var events = t.Events.Count == 0 ? "" : string.Join(" | ", t.Events.Select(e => e.Message));
            var weight = t.Routes.Mirrored ? $"{t.Routes.Canary}m" : t.Routes.Canary.ToString(CultureInfo.InvariantCulture);
            return output.WriteLineAsync(
                $"{t.Tick,4}  {t.Time:HH:mm:ss}  {t.Status.Phase,-16}  {weight,6}  {t.Routes.Primary,7}  {t.Status.FailedChecks,6}  {t.Status.Iterations,4}  {events}");
        }
    }
}

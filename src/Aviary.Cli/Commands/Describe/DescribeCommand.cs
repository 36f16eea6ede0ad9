using System.CommandLine;
using System.Globalization;
using Aviary.Core.Scheduling;
using Aviary.Core.Primitives;
using Aviary.Local.Controller;

namespace Aviary.Cli.Commands.Describe;

/// <summary><c>aviary describe canary NAME</c>: status, recent checks and events, like <c>kubectl describe canary</c>.</summary>
internal static class DescribeCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var state = CommonOptions.State();
        var ns = CommonOptions.Namespace();
        var name = new Argument<string>("name") { Description = "The canary's name." };
        var canary = new Command("canary", """
            Show a canary's status, its last analysis checks and its events.

            With --kubeconfig/--context (or as `kubectl aviary`), the Canary of a cluster: status, conditions, events.

            Example:
              aviary describe canary podinfo -n test
            """) { name, ns, state };
        var cluster = new Cluster.ClusterOptions();
        canary.Options.Add(cluster.Kubeconfig);
        canary.Options.Add(cluster.Context);
        canary.SetAction(async (parse, ct) =>
        {
            if (cluster.Active(parse))
            {
                using var kube = cluster.Connect(parse, io, "describe");
                if (kube is null) return 1;
                return await Cluster.ClusterReads.DescribeAsync(io, kube, parse.GetValue(ns) ?? kube.Config.Namespace, parse.GetValue(name)!, time, ct);
            }
            using var reader = StateReader.Connect(io, parse.GetValue(state)!);
            if (reader is null) return 1;
            var record = await reader.FindAsync(parse.GetValue(name)!, parse.GetValue(ns), ct);
            if (record is null) return 1;
            var s = record.Status;
            var o = io.Out;
            o.WriteLine($"Name:         {record.Name}");
            o.WriteLine($"Namespace:    {record.Namespace}");
            o.WriteLine("API Version:  flagger.app/v1beta1");
            o.WriteLine("Kind:         Canary");
            o.WriteLine("Status:");
            o.WriteLine($"  Canary Weight:         {s.CanaryWeight}");
            o.WriteLine($"  Failed Checks:         {s.FailedChecks}");
            o.WriteLine($"  Iterations:            {s.Iterations}");
            o.WriteLine($"  Phase:                 {s.Phase}");
            o.WriteLine($"  Last Applied Spec:     {s.LastAppliedSpec}");
            o.WriteLine($"  Last Promoted Spec:    {s.LastPromotedSpec}");
            o.WriteLine($"  Last Transition Time:  {s.LastTransitionTime?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}");
            foreach (var c in s.Conditions ?? [])
                o.WriteLine($"  Condition {c.Type}:  {c.Status} ({c.Reason}) {c.Message}");

            if (await reader.ChecksAsync(record, 200, ct) is not { } recent) return 1;
            var checks = recent.TakeLast(12).ToList();
            WriteJudge(o, recent);
            if (checks.Count > 0)
            {
                o.WriteLine("Analysis (last checks):");
                var rows = new List<string[]> { new[] { "  TIME", "KIND", "NAME", "VALUE", "RANGE", "RESULT", "MESSAGE" } };
                rows.AddRange(checks.Select(c => new[]
                {
                    "  " + c.Time.ToString("HH:mm:ss", CultureInfo.InvariantCulture), c.Kind, c.Name,
                    c.Value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : "-",
                    Range(c.Min, c.Max), c.Result.ToString(), c.Message ?? "",
                }));
                Tables.Write(o, rows);
            }

            o.WriteLine("Events:");
            if (await reader.EventsAsync(record, 0, ct) is not { } all) return 1;
            var events = all.TakeLast(40).ToList();
            if (events.Count == 0)
            {
                o.WriteLine("  <none>");
                return 0;
            }
            var now = time.GetUtcNow();
            var table = new List<string[]> { new[] { "  Type", "Reason", "Age", "From", "Message" } };
            table.Add(["  ----", "------", "----", "----", "-------"]);
            table.AddRange(events.Select(e => new[] { "  " + e.Type, e.Reason, StateReader.Age(e.Time, now), "aviary", e.Message }));
            Tables.Write(o, table);
            return 0;
        });
        return new Command("describe", "Show details of a resource (canary).") { canary };
    }

    /// <summary>
    /// The judge's latest numbers per metric (analysis.judge): both arms' rates, the confidence bounds of the difference
    /// against the margin, and the evidence against the rollback threshold — why it advanced, held or rolled back.
    /// </summary>
    private static void WriteJudge(TextWriter o, IReadOnlyList<CheckView> checks)
    {
        var latest = checks.Where(c => c.Kind == "judge" && c.Details is not null).GroupBy(c => c.Name).Select(g => g.MaxBy(c => c.Id)!).ToList();
        if (latest.Count == 0) return;
        o.WriteLine("Judge (sequential, latest per metric):");
        var rows = new List<string[]> { new[] { "  METRIC", "CANARY", "PRIMARY", "DIFFERENCE (pp)", "MARGIN (pp)", "EVIDENCE", "ROLLS BACK AT", "DECISION" } };
        string N(double v, string format = "0.###") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
        foreach (var c in latest.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var d = c.Details!;
            double Get(string key) => d.TryGetValue(key, out var v) ? v : double.NaN;
            rows.Add([
                "  " + c.Name,
                $"{N(Get("canaryRate"))}% of {N(Get("canaryRequests"), "0")}",
                $"{N(Get("primaryRate"))}% of {N(Get("primaryRequests"), "0")}",
                $"{N(Get("lower"))} .. {N(Get("upper"))}",
                N(Get("margin")),
                N(Get("evidence"), "0.##"),
                N(Get("rejectAt"), "0.##"),
                c.Result switch { CheckResult.Fail => "worse: roll back", CheckResult.NoData => "hold", _ => "not shown worse" },
            ]);
        }
        Tables.Write(o, rows);
    }

    private static string Range(double? min, double? max) => (min, max) switch
    {
        (null, null) => "",
        ({ } lo, null) => $">= {lo.ToString("R", CultureInfo.InvariantCulture)}",
        (null, { } hi) => $"<= {hi.ToString("R", CultureInfo.InvariantCulture)}",
        ({ } lo, { } hi) => $"{lo.ToString("R", CultureInfo.InvariantCulture)}..{hi.ToString("R", CultureInfo.InvariantCulture)}",
    };

    internal static string Duration(TimeSpan t) => GoDuration.Format(t);
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Cli.Commands.Cluster;
using Aviary.Core.Manifests;
using Aviary.Kubernetes.Client;

namespace Aviary.Cli.Commands.Get;

/// <summary>
/// <c>aviary get canaries</c>: the seeds' table of canaries, from the local controller or, with kubectl's flags (or as
/// <c>kubectl aviary</c>), from a cluster; <c>--watch</c> redraws it in place on a terminal and prints one line per
/// change when piped.
/// </summary>
internal static class GetCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var state = CommonOptions.State();
        var ns = CommonOptions.Namespace();
        var output = new Option<string>("--output", "-o") { Description = "text, wide, json or yaml", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "wide", "json", "yaml");
        var watch = new Option<bool>("--watch", "-w") { Description = "After listing, print the changes as they happen (Ctrl-C stops)." };
        var cluster = new ClusterOptions();
        var canaries = new Command("canaries", """
            List canaries: namespace, name, status, weight and last transition time (wide: failed checks, iterations,
            target, provider). Reads the local controller, or a cluster with --kubeconfig/--context/-A (as kubectl).

            Example:
              aviary get canaries
              aviary get canaries -A -o wide --context prod
              kubectl aviary get canaries -n test --watch
            """) { state, ns, output, watch };
        cluster.AddTo(canaries);
        canaries.Aliases.Add("canary");
        canaries.SetAction(async (parse, ct) =>
        {
            var format = parse.GetValue(output)!;
            if (cluster.Active(parse))
            {
                using var client = cluster.Connect(parse, io, "get");
                if (client is null) return 1;
                var space = cluster.Namespace(parse, ns, client);
                return parse.GetValue(watch)
                    ? await WatchClusterAsync(io, client, space, format, ct)
                    : await ListClusterAsync(io, client, space, format, ct);
            }
            using var reader = StateReader.Connect(io, parse.GetValue(state)!);
            if (reader is null) return 1;
            var printer = new WatchPrinter(io, Header(format == "wide"));
            while (true)
            {
                if (await reader.CanariesAsync(ct) is not { } rows) return 1;
                var shown = rows.Where(r => parse.GetValue(ns) is not { } n || r.Namespace == n).ToList();
                if (!parse.GetValue(watch))
                {
                    Print(io, shown, format);
                    return 0;
                }
                printer.Show(shown.ToDictionary(r => r.Key, r => Row(r, format == "wide")));
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
                }
                catch (OperationCanceledException)
                {
                    return 0;
                }
            }
        });
        return new Command("get", "Display resources (canaries).") { canaries };
    }

    private static string[] Header(bool wide) =>
        wide ? ["NAMESPACE", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "ITERATIONS", "LASTTRANSITIONTIME"]
            : ["NAMESPACE", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITIONTIME"];

    private static string[] Row(Local.Controller.CanaryView r, bool wide)
    {
        var s = r.Status;
        var time = s.LastTransitionTime?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "";
        var weight = s.CanaryWeight.ToString(CultureInfo.InvariantCulture);
        var failed = s.FailedChecks.ToString(CultureInfo.InvariantCulture);
        return wide ? [r.Namespace, r.Name, s.Phase ?? "", weight, failed, s.Iterations.ToString(CultureInfo.InvariantCulture), time]
            : [r.Namespace, r.Name, s.Phase ?? "", weight, failed, time];
    }

    private static void Print(CliIO io, List<Local.Controller.CanaryView> rows, string format)
    {
        var objects = rows.Select(r => new { @namespace = r.Namespace, name = r.Name, status = r.Status });
        switch (format)
        {
            case "json":
                io.Out.WriteLine(JsonSerializer.Serialize(objects, ModelJson.Indented));
                return;
            case "yaml":
                io.Out.Write(ClusterViews.Yaml(JsonSerializer.SerializeToNode(objects, ModelJson.Options)));
                return;
        }
        var table = new List<string[]> { Header(format == "wide") };
        table.AddRange(rows.Select(r => Row(r, format == "wide")));
        Tables.Write(io.Out, table);
    }

    private static async Task<int> ListClusterAsync(CliIO io, KubeClient client, string? ns, string format, CancellationToken ct)
    {
        var list = await client.Resource(KubeResources.Canaries).ListAllAsync(ns, null, ct);
        if (!list.Succeeded)
        {
            await io.Error.WriteLineAsync($"aviary get: {(list.IsForbidden ? "refused by the cluster: " + list.Error!.Message : list.Error!.ToString())}");
            return 1;
        }
        var items = list.Value.Items.OrderBy(i => ClusterViews.Text(i["metadata"]?["namespace"]), StringComparer.Ordinal)
            .ThenBy(i => ClusterViews.Text(i["metadata"]?["name"]), StringComparer.Ordinal).ToList();
        switch (format)
        {
            case "json":
                await io.Out.WriteLineAsync(ClusterViews.List(items).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            case "yaml":
                await io.Out.WriteAsync(ClusterViews.Yaml(ClusterViews.List(items)));
                return 0;
        }
        if (items.Count == 0)
        {
            await io.Error.WriteLineAsync(ns is null ? "No canaries found." : $"No canaries found in {ns} namespace.");
            return 0;
        }
        var table = new List<string[]> { ClusterViews.Header(ns is null, format == "wide") };
        table.AddRange(items.Select(i => ClusterViews.Row(i, ns is null, format == "wide")));
        Tables.Write(io.Out, table);
        return 0;
    }

    /// <summary>A list, then every change from a watch (which resumes and re-lists by itself), until Ctrl-C.</summary>
    private static async Task<int> WatchClusterAsync(CliIO io, KubeClient client, string? ns, string format, CancellationToken ct)
    {
        var wide = format == "wide";
        var printer = new WatchPrinter(io, ClusterViews.Header(ns is null, wide));
        var rows = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        var synced = false;
        try
        {
            await foreach (var e in client.Resource(KubeResources.Canaries).WatchAllAsync(ns, null, ct))
            {
                if (e.Type == WatchEventType.Error)
                {
                    await io.Error.WriteLineAsync($"aviary get --watch: {e.Error}; retrying");
                    continue;
                }
                if (e.Object is JsonObject o && e.Type is WatchEventType.Added or WatchEventType.Modified or WatchEventType.Deleted)
                {
                    var key = $"{ClusterViews.Text(o["metadata"]?["namespace"])}/{ClusterViews.Text(o["metadata"]?["name"])}";
                    if (e.Type == WatchEventType.Deleted) rows.Remove(key);
                    else rows[key] = ClusterViews.Row(o, ns is null, wide);
                }
                if (e.Type == WatchEventType.Synced) synced = true;
                if (synced && e.Type != WatchEventType.Bookmark) printer.Show(rows);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return 0;
    }
}

/// <summary>
/// How <c>--watch</c> shows a table: on a terminal, the whole table redrawn in place; piped, the table once and then one
/// line per row that changed (a deleted row is printed with its last values), as <c>kubectl get -w</c> does.
/// </summary>
internal sealed class WatchPrinter(CliIO io, string[] header)
{
    private readonly bool _terminal = ReferenceEquals(io.Out, Console.Out) && !Console.IsOutputRedirected;
    private Dictionary<string, string[]>? _shown;
    private int[]? _widths;

    public void Show(IReadOnlyDictionary<string, string[]> rows)
    {
        if (_terminal)
        {
            io.Out.Write("\u001b[H\u001b[2J");
            Tables.Write(io.Out, [header, .. rows.Values]);
            io.Out.Flush();
            return;
        }
        if (_shown is null)
        {
            var all = new List<string[]> { header };
            all.AddRange(rows.Values);
            _widths = Enumerable.Range(0, header.Length).Select(i => all.Max(r => i < r.Length ? r[i].Length : 0) + 3).ToArray();
            foreach (var r in all) Line(r);
        }
        else
        {
            foreach (var (key, row) in rows)
                if (!_shown.TryGetValue(key, out var before) || !before.SequenceEqual(row)) Line(row);
            foreach (var (key, row) in _shown)
                if (!rows.ContainsKey(key)) Line(row);
        }
        _shown = rows.ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);
        io.Out.Flush();
    }

    private void Line(string[] row) =>
        io.Out.WriteLine(string.Concat(row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(_widths![i]))).TrimEnd());
}

using System.Globalization;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Local.Controller;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Aviary.Cli;

/// <summary>
/// The live view of <c>aviary run</c> and <c>aviary demo</c>: per canary its phase, a weight bar, the last
/// success rate and latency against their thresholds, failed checks out of the threshold, and recent events.
/// </summary>
internal sealed class LiveView
{
    private readonly Dictionary<string, Row> _rows = new(StringComparer.Ordinal);
    private readonly List<string> _notes = [];
    private readonly object _gate = new();

    public string? Title { get; set; }

    public void Update(CanaryUpdate update)
    {
        lock (_gate)
        {
            if (!_rows.TryGetValue(update.Policy.Id, out var row)) _rows[update.Policy.Id] = row = new Row();
            row.Policy = update.Policy;
            row.Status = update.Outcome.Status;
            row.Weight = update.Outcome.Routes?.Canary ?? update.Outcome.Status.CanaryWeight;
            foreach (var check in update.Outcome.Checks.Where(c => c.Kind == "metric"))
                row.Metrics[check.Name] = check;
            foreach (var e in update.Outcome.Events)
                row.Events.Add($"{e.Time.ToLocalTime():HH:mm:ss} {(e.Type == EventType.Warning ? "[yellow]" : "")}{Markup.Escape(e.Message)}{(e.Type == EventType.Warning ? "[/]" : "")}");
            if (row.Events.Count > 6) row.Events.RemoveRange(0, row.Events.Count - 6);
        }
    }

    public void Note(string line)
    {
        lock (_gate)
        {
            _notes.Add(line);
            if (_notes.Count > 8) _notes.RemoveAt(0);
        }
    }

    public IRenderable Render()
    {
        lock (_gate)
        {
            var table = new Table().Border(TableBorder.Rounded).Expand();
            table.AddColumn("Canary");
            table.AddColumn("Phase");
            table.AddColumn("Canary weight");
            table.AddColumn("Success rate");
            table.AddColumn("p99 latency");
            table.AddColumn("Failed");
            foreach (var (id, row) in _rows.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                var p = row.Policy!;
                table.AddRow(
                    new Markup(Markup.Escape(id)),
                    new Markup(Phase(row.Status?.Phase)),
                    new Markup(Bar(row.Weight, p.EffectiveMaxWeight)),
                    new Markup(Metric(row, MetricCheck.RequestSuccessRate, v => v.ToString("0.00", CultureInfo.InvariantCulture) + "%")),
                    new Markup(Metric(row, MetricCheck.RequestDuration, v => v.ToString("0", CultureInfo.InvariantCulture) + "ms")),
                    new Markup($"{row.Status?.FailedChecks ?? 0}/{p.Threshold}"));
            }
            var parts = new List<IRenderable>();
            if (Title is not null) parts.Add(new Markup($"[bold]{Markup.Escape(Title)}[/]"));
            parts.Add(table);
            foreach (var (id, row) in _rows.OrderBy(r => r.Key, StringComparer.Ordinal).Where(r => r.Value.Events.Count > 0))
                parts.Add(new Panel(new Markup(string.Join("\n", row.Events))) { Header = new PanelHeader($"events of {Markup.Escape(id)}"), Expand = true });
            if (_notes.Count > 0) parts.Add(new Markup(string.Join("\n", _notes.Select(Markup.Escape))));
            return new Rows(parts);
        }
    }

    private static string Phase(string? phase) => phase switch
    {
        CanaryPhase.Succeeded => "[green]Succeeded[/]",
        CanaryPhase.Failed => "[red]Failed[/]",
        CanaryPhase.Progressing or CanaryPhase.Promoting or CanaryPhase.Finalising => $"[blue]{phase}[/]",
        CanaryPhase.Waiting or CanaryPhase.WaitingPromotion => $"[yellow]{phase}[/]",
        null or "" => "-",
        _ => Markup.Escape(phase),
    };

    private static string Bar(int weight, int max)
    {
        const int width = 20;
        var filled = (int)Math.Round(width * weight / 100.0);
        var limit = (int)Math.Round(width * max / 100.0);
        var bar = new string('█', filled) + new string('░', Math.Max(0, limit - filled)) + new string(' ', Math.Max(0, width - Math.Max(filled, limit)));
        return $"[green]{bar}[/] {weight,3}%";
    }

    private static string Metric(Row row, string name, Func<double, string> format)
    {
        if (!row.Metrics.TryGetValue(name, out var check)) return "-";
        var value = check.Value is { } v ? format(v) : "no data";
        var bound = check.Min is { } min ? $" (min {min.ToString("R", CultureInfo.InvariantCulture)})" : check.Max is { } max ? $" (max {max.ToString("R", CultureInfo.InvariantCulture)})" : "";
        var color = check.Result == CheckResult.Pass ? "green" : "red";
        return $"[{color}]{Markup.Escape(value)}[/]{Markup.Escape(bound)}";
    }

    private sealed class Row
    {
        public CanaryPolicy? Policy { get; set; }
        public CanaryStatus? Status { get; set; }
        public int Weight { get; set; }
        public Dictionary<string, AnalysisCheck> Metrics { get; } = new(StringComparer.Ordinal);
        public List<string> Events { get; } = [];
    }
}

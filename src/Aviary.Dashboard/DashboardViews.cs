using System.Text.RegularExpressions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;

namespace Aviary.Dashboard;

/// <summary>A canary's line on the overview.</summary>
public sealed record CanaryRow(
    string Namespace, string Name, string Phase, string Strategy, int Weight, int MaxWeight, int Step, int Steps,
    int FailedChecks, int Threshold, bool Paused, bool Judge, string? Revision, DateTimeOffset? Since, DateTimeOffset UpdatedAt,
    CheckRow? LastCheck);

/// <summary>One analysis check.</summary>
public sealed record CheckRow(
    DateTimeOffset Time, string Kind, string Name, double? Value, double? Min, double? Max, string Result, string? Message,
    IReadOnlyDictionary<string, double>? Details);

/// <summary>The canary's weight at a moment of its current rollout.</summary>
public sealed record WeightPoint(DateTimeOffset Time, int Weight);

/// <summary>One release of the canary: from a new revision to its promotion, rollback or replacement.</summary>
public sealed record ReleaseRow(DateTimeOffset Start, DateTimeOffset? End, string Outcome, double? Seconds);

/// <summary>A webhook or gate of the spec, with its last result.</summary>
public sealed record HookRow(string Name, string Type, CheckRow? Last);

/// <summary>A line of the revision diff: <c>' '</c> in both, <c>'-'</c> the primary's only, <c>'+'</c> the canary's only.</summary>
public sealed record DiffLine(char Op, string Text);

/// <summary>What an action will do, for its confirmation.</summary>
public sealed record ActionRow(string Name, string Description);

/// <summary>A canary's page.</summary>
public sealed record CanaryPage(
    CanaryRow Canary, IReadOnlyList<WeightPoint> Timeline, IReadOnlyList<CheckRow> Checks, IReadOnlyList<HookRow> Hooks,
    IReadOnlyList<DashboardEvent> Events, IReadOnlyList<ReleaseRow> Releases, IReadOnlyList<DiffLine>? Diff, bool DiffTruncated,
    IReadOnlyList<ActionRow> Actions, string? JudgeType);

/// <summary>
/// Everything the pages show that is derived rather than stored: steps, the weight timeline and the releases (from
/// the events, whose wording is Flagger's and therefore a contract), the hooks' last results and the revision diff.
/// Pure functions of a snapshot and its history, so that both runtimes show the same thing.
/// </summary>
public static partial class DashboardViews
{
    public const int MaxDiffLines = 2000;

    public static IReadOnlyList<ActionRow> Actions(string id) =>
    [
        new("promote", $"Promote {id} now: the current analysis step must pass, then the canary's revision is copied to the primary and all traffic goes to it."),
        new("abort", $"Roll {id} back now: all traffic goes to the primary and the canary is scaled down. The revision stays failed until it changes or is retried."),
        new("retry", $"Analyse {id}'s failed revision again from the first step."),
        new("pause", $"Pause {id}: no analysis and no weight changes until it is resumed (like spec.suspend: true)."),
        new("resume", $"Resume {id}'s analysis where it stopped."),
    ];

    public static CanaryRow Row(CanarySnapshot c, AnalysisCheck? last)
    {
        var s = c.Status;
        var p = c.Policy;
        var (step, steps) = p is null ? (0, 0) : Steps(p, s);
        return new CanaryRow(c.Namespace, c.Name, string.IsNullOrEmpty(s.Phase) ? "Pending" : s.Phase!,
            p?.Strategy.ToString() ?? "", s.CanaryWeight, p?.EffectiveMaxWeight ?? 0, step, steps, s.FailedChecks, p?.Threshold ?? 0,
            c.Paused || p?.Suspend == true, p?.Judge is not null, s.LastAppliedSpec, s.LastTransitionTime, c.UpdatedAt, last is null ? null : Check(last));
    }

    /// <summary>Which step of how many the rollout is at: weight steps for a canary, iterations for blue/green and A/B.</summary>
    public static (int Step, int Steps) Steps(CanaryPolicy p, CanaryStatus s)
    {
        if (p.Iterations > 0) return (Math.Min(s.Iterations, p.Iterations), p.Iterations);
        if (p.StepWeights.Count > 0)
        {
            var reached = p.StepWeights.Count(w => w <= s.CanaryWeight && s.CanaryWeight > 0);
            return (reached, p.StepWeights.Count);
        }
        if (p.StepWeight <= 0) return (0, 0);
        var max = p.EffectiveMaxWeight;
        return ((int)Math.Ceiling(Math.Min(s.CanaryWeight, max) / (double)p.StepWeight), (int)Math.Ceiling(max / (double)p.StepWeight));
    }

    public static CheckRow Check(AnalysisCheck c) =>
        new(c.Time, c.Kind, c.Name, Finite(c.Value), Finite(c.Min), Finite(c.Max), c.Result.ToString(), c.Message,
            c.Details?.Where(d => double.IsFinite(d.Value)).ToDictionary(d => d.Key, d => d.Value));

    public static CanaryPage Page(CanarySnapshot c, CanaryHistory h)
    {
        var checks = h.Checks.Select(Check).ToList();
        var row = Row(c, h.Checks.Count > 0 ? h.Checks[^1] : null);
        var id = $"{c.Name}.{c.Namespace}";
        var (diff, truncated) = Diff(h.PrimarySpec, h.CanarySpec);
        return new CanaryPage(row, Timeline(h.Events, c), checks, Hooks(c.Policy, checks, h.Events), h.Events.Reverse().ToList(),
            Releases(h.Events), diff, truncated, Actions(id), c.Policy?.Judge?.Type);
    }

    /// <summary>The weights of the current (or last) rollout, read from its events, ending at the status' weight now.</summary>
    public static IReadOnlyList<WeightPoint> Timeline(IReadOnlyList<DashboardEvent> events, CanarySnapshot c)
    {
        var start = LastIndex(events, e => e.Message.StartsWith("New revision detected!", StringComparison.Ordinal));
        var points = new List<WeightPoint>();
        if (start < 0)
        {
            points.Add(new WeightPoint(c.UpdatedAt, c.Status.CanaryWeight));
            return points;
        }
        points.Add(new WeightPoint(events[start].Time, 0));
        for (var i = start + 1; i < events.Count; i++)
        {
            var e = events[i];
            if (CanaryWeight().Match(e.Message) is { Success: true } m) points.Add(new WeightPoint(e.Time, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
            else if (PrimaryWeight().Match(e.Message) is { Success: true } pm) points.Add(new WeightPoint(e.Time, 100 - int.Parse(pm.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
            else if (Ends(e.Message) is not null || e.Message.StartsWith("Routing all traffic to primary", StringComparison.Ordinal))
                points.Add(new WeightPoint(e.Time, 0));
        }
        var last = points[^1];
        var now = c.UpdatedAt > last.Time ? c.UpdatedAt : last.Time;
        if (CanaryPhase.IsActive(c.Status.Phase) || last.Weight != c.Status.CanaryWeight) points.Add(new WeightPoint(now, c.Status.CanaryWeight));
        return points;
    }

    /// <summary>Releases, newest first: each new revision until its promotion, rollback, or the next revision.</summary>
    public static IReadOnlyList<ReleaseRow> Releases(IReadOnlyList<DashboardEvent> events)
    {
        var list = new List<ReleaseRow>();
        DateTimeOffset? start = null;
        foreach (var e in events)
        {
            if (e.Message.StartsWith("New revision detected!", StringComparison.Ordinal))
            {
                if (start is { } s) list.Add(new ReleaseRow(s, e.Time, "Superseded", (e.Time - s).TotalSeconds));
                start = e.Time;
            }
            else if (start is { } s && Ends(e.Message) is { } outcome)
            {
                list.Add(new ReleaseRow(s, e.Time, outcome, (e.Time - s).TotalSeconds));
                start = null;
            }
        }
        if (start is { } open) list.Add(new ReleaseRow(open, null, "Progressing", null));
        list.Reverse();
        return list;
    }

    private static string? Ends(string message) =>
        message.StartsWith("Promotion completed!", StringComparison.Ordinal) ? "Succeeded"
        : message.StartsWith("Canary failed!", StringComparison.Ordinal) ? "Failed"
        : message.Contains("is back on the promoted revision", StringComparison.Ordinal) ? "Reverted"
        : null;

    /// <summary>
    /// Each webhook of the spec with its last result: the last check it answered, or, for gates and hooks that are not
    /// analysis checks, the last event that names it (a warning is a failure).
    /// </summary>
    public static IReadOnlyList<HookRow> Hooks(CanaryPolicy? p, IReadOnlyList<CheckRow> checks, IReadOnlyList<DashboardEvent> events) =>
        p is null ? [] : p.Webhooks.Select(w => new HookRow(w.Name, w.Type.ToString(), Latest(
            checks.LastOrDefault(c => c.Kind == "webhook" && c.Name == w.Name),
            events.LastOrDefault(e => Names(e.Message, w.Name)) is { } e
                ? new CheckRow(e.Time, "webhook", w.Name, null, null, null, e.Type == EventType.Warning ? "Fail" : "Pass", e.Message, null)
                : null))).ToList();

    private static CheckRow? Latest(CheckRow? a, CheckRow? b) => a is null ? b : b is null ? a : b.Time > a.Time ? b : a;

    /// <summary>Whether an event is about the hook: its name as a word (events say "check NAME passed", "approval NAME").</summary>
    private static bool Names(string message, string hook)
    {
        var i = message.IndexOf(hook, StringComparison.Ordinal);
        while (i >= 0)
        {
            var before = i == 0 || message[i - 1] == ' ';
            var end = i + hook.Length;
            if (before && (end == message.Length || message[end] is ' ' or ':' or ',')) return true;
            i = message.IndexOf(hook, i + 1, StringComparison.Ordinal);
        }
        return false;
    }

    /// <summary>A line diff (longest common subsequence) of the primary's spec against the canary's.</summary>
    public static (IReadOnlyList<DiffLine>? Lines, bool Truncated) Diff(string? primary, string? canary)
    {
        if (primary is null || canary is null) return (null, false);
        var a = primary.ReplaceLineEndings("\n").Split('\n');
        var b = canary.ReplaceLineEndings("\n").Split('\n');
        var truncated = a.Length > MaxDiffLines || b.Length > MaxDiffLines;
        if (truncated) (a, b) = (a[..Math.Min(a.Length, MaxDiffLines)], b[..Math.Min(b.Length, MaxDiffLines)]);
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var lines = new List<DiffLine>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { lines.Add(new DiffLine(' ', a[x])); x++; y++; }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1])) lines.Add(new DiffLine('-', a[x++]));
            else lines.Add(new DiffLine('+', b[y++]));
        }
        return (lines, truncated);
    }

    private static int LastIndex(IReadOnlyList<DashboardEvent> events, Func<DashboardEvent, bool> match)
    {
        for (var i = events.Count - 1; i >= 0; i--) if (match(events[i])) return i;
        return -1;
    }

    private static double? Finite(double? v) => v is { } d && double.IsFinite(d) ? d : null;

    [GeneratedRegex(@"^Advance \S+ canary weight (\d+)$")]
    private static partial Regex CanaryWeight();

    [GeneratedRegex(@"^Advance \S+ primary weight (\d+)$")]
    private static partial Regex PrimaryWeight();
}

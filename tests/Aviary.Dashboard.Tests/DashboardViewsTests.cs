using Aviary.Core.Model;
using Aviary.Core.Scheduling;

namespace Aviary.Dashboard.Tests;

/// <summary>What the pages derive from a canary's events and specs, the same on both runtimes.</summary>
public sealed class DashboardViewsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static List<DashboardEvent> Events(params (int Second, string Message)[] events) =>
        events.Select((e, i) => new DashboardEvent(i + 1, T0.AddSeconds(e.Second), e.Message.StartsWith("Canary failed", StringComparison.Ordinal) ? EventType.Warning : EventType.Normal, "Synced", e.Message)).ToList();

    private static CanarySnapshot Snapshot(string phase, int weight, int second) =>
        new("test", "podinfo", null, new CanaryStatus { Phase = phase, CanaryWeight = weight }, T0.AddSeconds(second), false);

    [Fact]
    public void TimelineAndReleases_FromFlaggersEventWording_PromotedThenRolledBack()
    {
        var events = Events(
            (0, "Initialization done! podinfo.test"),
            (10, "New revision detected! Scaling up podinfo.test"),
            (11, "Starting canary analysis for podinfo.test"),
            (12, "Advance podinfo.test canary weight 20"),
            (14, "Advance podinfo.test canary weight 40"),
            (16, "Copying podinfo.test template spec to podinfo-primary.test"),
            (17, "Advance podinfo.test primary weight 80"),
            (18, "Promotion completed! Scaling down podinfo.test"),
            (30, "New revision detected! Scaling up podinfo.test"),
            (32, "Advance podinfo.test canary weight 20"),
            (34, "Rolling back podinfo.test failed checks threshold reached 2"),
            (35, "Canary failed! Scaling down podinfo.test"),
            (40, "New revision detected! Scaling up podinfo.test"),
            (42, "Advance podinfo.test canary weight 20"));

        var timeline = DashboardViews.Timeline(events, Snapshot(CanaryPhase.Progressing, 20, 43));
        Assert.Equal([(40, 0), (42, 20), (43, 20)], timeline.Select(p => ((int)(p.Time - T0).TotalSeconds, p.Weight)));
        var finished = DashboardViews.Timeline(events.Take(8).ToList(), Snapshot(CanaryPhase.Succeeded, 0, 19));
        Assert.Equal([(10, 0), (12, 20), (14, 40), (17, 20), (18, 0)], finished.Select(p => ((int)(p.Time - T0).TotalSeconds, p.Weight)));

        var releases = DashboardViews.Releases(events);
        Assert.Equal(["Progressing", "Failed", "Succeeded"], releases.Select(r => r.Outcome));
        Assert.Equal([null, 5.0, 8.0], releases.Select(r => r.Seconds));
    }

    [Fact]
    public void Releases_ANewRevisionDuringAnalysis_SupersedesTheOpenOne()
    {
        var releases = DashboardViews.Releases(Events(
            (0, "New revision detected! Scaling up podinfo.test"),
            (5, "New revision detected! Restarting analysis for podinfo.test"),
            (9, "Promotion completed! Scaling down podinfo.test")));
        Assert.Equal([("Succeeded", 4.0), ("Superseded", 5.0)], releases.Select(r => (r.Outcome, r.Seconds ?? -1)));
    }

    [Fact]
    public void Diff_ChangedLine_IsARemovalAndAnAdditionBetweenCommonLines()
    {
        var (lines, truncated) = DashboardViews.Diff("a\nversion 1\nc\n", "a\nversion 2\nc\nd\n");
        Assert.False(truncated);
        Assert.Equal(" a|-version 1|+version 2| c|+d| ", string.Join("|", lines!.Select(l => $"{l.Op}{l.Text}")));
        Assert.Equal((null, false), DashboardViews.Diff(null, "x"));
    }
}

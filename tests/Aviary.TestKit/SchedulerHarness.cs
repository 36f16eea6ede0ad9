using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Core.Simulation;

namespace Aviary.TestKit;

/// <summary>Runs the scheduler one tick at a time against fakes, in virtual time.</summary>
public sealed class SchedulerHarness
{
    public VirtualClock Clock { get; } = new();
    public FakeWorkload Workload { get; }
    public FakeRouter Router { get; } = new();
    public FakeMetrics Metrics { get; } = new();
    public FakeWebhooks Webhooks { get; } = new();
    public FakeNotifier Notifier { get; } = new();
    public CanaryScheduler Scheduler { get; }
    public CanaryPolicy Policy { get; set; }
    public CanaryStatus Status { get; set; } = CanaryStatus.Empty;
    public List<TickOutcome> Outcomes { get; } = [];

    /// <param name="webhooks">A real webhook client to use instead of <see cref="Webhooks"/> (e.g. against a local receiver).</param>
    /// <param name="arms">The per-arm counters a statistical judge reads (none by default, as in a runtime without them).</param>
    /// <param name="router">A real router to use instead of <see cref="Router"/> (e.g. a Kubernetes router against a real API server).</param>
    /// <param name="metrics">A real metric provider to use instead of <see cref="Metrics"/> (e.g. a resolver querying a metrics API).</param>
    public SchedulerHarness(string canaryYaml, IWebhookClient? webhooks = null, IArmCounters? arms = null, IRouter? router = null, IMetricProvider? metrics = null)
        : this(Compile(canaryYaml), webhooks, arms, router, metrics)
    {
    }

    /// <summary>The harness for an already compiled <paramref name="policy"/>.</summary>
    public SchedulerHarness(CanaryPolicy policy, IWebhookClient? webhooks = null, IArmCounters? arms = null, IRouter? router = null, IMetricProvider? metrics = null)
    {
        Workload = new FakeWorkload(Clock);
        Scheduler = new CanaryScheduler(new SchedulerServices(Workload, router ?? Router, metrics ?? Metrics, webhooks ?? Webhooks, Notifier, Clock, arms));
        Policy = policy;
    }

    public static CanaryPolicy Compile(string yaml)
    {
        var file = ManifestReader.Read(yaml);
        var doc = file.Documents.Single(d => d.Kind == "Canary");
        if (!doc.IsValid) throw new InvalidOperationException(string.Join("\n", doc.Diagnostics));
        return (CanaryPolicy)doc.Compiled!;
    }

    /// <summary>
    /// Compiles <paramref name="yaml"/> as if its <c>spec.provider</c> were the runtime's default (so validation does not refuse
    /// what that provider's router cannot do), then names the provider again: for tests of a router's own refusals.
    /// </summary>
    public static CanaryPolicy CompileForRouter(string yaml)
    {
        var provider = System.Text.RegularExpressions.Regex.Match(yaml, @"^\s*provider:\s*(\S+)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
        if (!provider.Success) return Compile(yaml);
        return Compile(yaml.Remove(provider.Index, provider.Length)) with { Provider = provider.Groups[1].Value };
    }

    public IEnumerable<string> Events => Outcomes.SelectMany(o => o.Events).Select(e => e.Message);

    public string Phase => Status.Phase ?? "";

    /// <summary>Runs one tick (with a pending manual action, if any) and advances the clock by the analysis interval.</summary>
    public async Task<TickOutcome> TickAsync(ManualAction? action = null)
    {
        var outcome = await Scheduler.TickAsync(Policy, Status, action);
        Status = outcome.Status;
        Outcomes.Add(outcome);
        Clock.Advance(Policy.Interval);
        return outcome;
    }

    /// <summary>A look of the judge between ticks (<see cref="CanaryScheduler.LookAsync"/>); the clock does not move.</summary>
    public async Task<TickOutcome> LookAsync()
    {
        var outcome = await Scheduler.LookAsync(Policy, Status);
        Status = outcome.Status;
        Outcomes.Add(outcome);
        return outcome;
    }

    public async Task TicksAsync(int n)
    {
        for (var i = 0; i < n; i++) await TickAsync();
    }

    /// <summary>Ticks until the phase is one of <paramref name="phases"/>; fails after <paramref name="max"/> ticks.</summary>
    public async Task<int> RunUntilAsync(int max, params string[] phases)
    {
        for (var i = 1; i <= max; i++)
        {
            await TickAsync();
            if (phases.Contains(Phase)) return i;
        }
        throw new InvalidOperationException($"still {Phase} after {max} ticks; events: {string.Join(" | ", Events)}");
    }

    /// <summary>Initializes, then starts a rollout of a new revision (phase Progressing).</summary>
    public async Task StartRolloutAsync()
    {
        await TickAsync();
        Workload.NewRevision();
        await TickAsync();
    }

    /// <summary>
    /// A canary of <paramref name="target"/> checking one MetricTemplate (by <c>templateRef</c>) against a maximum, in
    /// two steps of 20 with threshold 2: for running a template's scenario.
    /// </summary>
    public static string TemplateCanary(string template, string templateNamespace, double max, string interval, string target = "podinfo") =>
        Canary($$"""
            interval: 1m
            threshold: 2
            stepWeight: 20
            maxWeight: 40
            metrics:
            - name: {{template}}
              templateRef: {name: {{template}}, namespace: {{templateNamespace}}}
              thresholdRange: {max: {{max.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}
              interval: {{interval}}
            """).Replace("name: podinfo\n  service:", $"name: {target}\n  service:", StringComparison.Ordinal);

    /// <summary>
    /// Starts a rollout and ticks until it ends (at most <paramref name="maxTicks"/> ticks), writing one line per tick to
    /// <paramref name="transcript"/>: the phase, the canary weight and each check's value and result.
    /// </summary>
    public async Task RunReleaseAsync(System.Text.StringBuilder transcript, int maxTicks = 30)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        await StartRolloutAsync();
        for (var tick = 0; tick < maxTicks && Phase is not (CanaryPhase.Succeeded or CanaryPhase.Failed); tick++)
        {
            var outcome = await TickAsync();
            transcript.Append(culture, $"{Phase} weight {outcome.Status.CanaryWeight}");
            foreach (var c in outcome.Checks) transcript.Append(culture, $"; {c.Name} {c.Value?.ToString(culture) ?? "-"} {c.Result}");
            transcript.Append('\n');
        }
    }

    /// <summary>A canary manifest with the given <c>analysis</c> body and extra <c>spec</c> fields, both written flush left.</summary>
    public static string Canary(string analysis, string extraSpec = "") =>
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n  namespace: test\nspec:\n" +
        "  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: podinfo\n  service:\n    port: 9898\n" +
        Indent(extraSpec, 2) + "  analysis:\n" + Indent(analysis, 4);

    private static string Indent(string text, int spaces) =>
        string.Concat(text.Replace("\r", "", StringComparison.Ordinal).Split('\n')
            .Where(l => l.Trim().Length > 0).Select(l => new string(' ', spaces) + l + "\n"));
}

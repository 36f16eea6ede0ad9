using System.Diagnostics;
using System.Globalization;
using System.Net;
using Aviary.Core.Observability;
using Aviary.Routing;
using Aviary.Routing.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aviary.TestKit;

/// <summary>How long one version takes to answer: a distribution sampled with the generator's seeded random.</summary>
public abstract record TestMeshLatency
{
    /// <summary>Always <paramref name="milliseconds"/>.</summary>
    public static TestMeshLatency Fixed(double milliseconds) => new FixedLatency(milliseconds);

    /// <summary>Uniform between the two bounds.</summary>
    public static TestMeshLatency Uniform(double minMilliseconds, double maxMilliseconds) => new UniformLatency(minMilliseconds, maxMilliseconds);

    /// <summary>Log-normal with the given median and 99th percentile (a long right tail, as real services have).</summary>
    public static TestMeshLatency LogNormal(double medianMilliseconds, double p99Milliseconds) => new LogNormalLatency(medianMilliseconds, p99Milliseconds);

    /// <summary>One latency in milliseconds.</summary>
    public abstract double Sample(Random random);

    private sealed record FixedLatency(double Milliseconds) : TestMeshLatency
    {
        public override double Sample(Random random) => Milliseconds;
    }

    private sealed record UniformLatency(double Min, double Max) : TestMeshLatency
    {
        public override double Sample(Random random) => Min + (Max - Min) * random.NextDouble();
    }

    private sealed record LogNormalLatency(double Median, double P99) : TestMeshLatency
    {
        // z of the 99th percentile of the standard normal distribution.
        private const double Z99 = 2.3263478740408408;

        public override double Sample(Random random)
        {
            var sigma = Math.Log(Math.Max(P99, Median) / Median) / Z99;
            // Box-Muller.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
            return Median * Math.Exp(sigma * z);
        }
    }
}

/// <summary>How one version (primary or canary) behaves: the share of requests that fail, their status, and latency.</summary>
/// <param name="ErrorRate">Share of failed requests, 0 to 1.</param>
/// <param name="Latency">Latency distribution; default fixed 5 ms.</param>
/// <param name="ErrorStatus">Status of a failed request; default 500.</param>
public sealed record TestMeshArm(double ErrorRate = 0, TestMeshLatency? Latency = null, int ErrorStatus = 500)
{
    /// <summary>No errors, 5 ms.</summary>
    public static TestMeshArm Healthy { get; } = new();

    public TestMeshLatency EffectiveLatency => Latency ?? TestMeshLatency.Fixed(5);
}

/// <summary>How a version's failures are spread over its requests.</summary>
public enum TestMeshErrorSpread
{
    /// <summary>
    /// Evenly: a request fails whenever the version's error rate, added up over its requests, reaches a whole
    /// failure (0.1: every tenth request). Any window of requests then fails at the configured rate, to within one
    /// request, so Flagger's success-rate query answers <c>100 × (1 − ErrorRate)</c> without sampling noise.
    /// </summary>
    Even,

    /// <summary>Each request fails with probability <see cref="TestMeshArm.ErrorRate"/> (the generator's seeded random).</summary>
    Random,
}

/// <summary>What <see cref="TestMeshMetrics"/> generates and exposes.</summary>
public sealed record TestMeshMetricsOptions
{
    /// <summary>Requests per second sent to the apex, generated on a timer on the real clock; 0: only <see cref="TestMeshMetrics.Generate"/>. Default 20.</summary>
    public double RequestsPerSecond { get; init; } = 20;

    /// <summary>How often the timer generates the requests due; default 100 ms.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Seed of the random that decides errors, latencies and which requests carry the A/B headers.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Share of requests that carry what an A/B rule matches (they take the first rule); default 0.5.</summary>
    public double MatchShare { get; init; } = 0.5;

    /// <summary>How failures are spread over a version's requests; default <see cref="TestMeshErrorSpread.Even"/>.</summary>
    public TestMeshErrorSpread ErrorSpread { get; init; } = TestMeshErrorSpread.Even;

    public TestMeshArm Primary { get; init; } = TestMeshArm.Healthy;

    public TestMeshArm Canary { get; init; } = TestMeshArm.Healthy;

    /// <summary>The data planes whose families are exposed; default Linkerd's and Istio's.</summary>
    public IReadOnlyList<TestMeshSeries> Series { get; init; } = [TestMeshSeries.Linkerd, TestMeshSeries.Istio];

    /// <summary>Port of the <c>/metrics</c> listener on 127.0.0.1; 0: a free one.</summary>
    public int Port { get; init; }
}

/// <summary>Requests one version answered (cumulative).</summary>
public sealed record TestMeshCounts(long Total, long Errors, IReadOnlyDictionary<int, long> ByStatus);

/// <summary>
/// The test mesh's metrics data plane: no backends, but requests generated at <see cref="TestMeshMetricsOptions.RequestsPerSecond"/>
/// and routed by the mesh's current routing (weights, A/B rules for <see cref="TestMeshMetricsOptions.MatchShare"/> of
/// them, mirrors), each answered by its version's <see cref="TestMeshArm"/> (changeable at runtime to model a bad
/// release). The counters are served at <see cref="Url"/> in the families of <see cref="TestMeshMetricsOptions.Series"/>,
/// as each data plane names and labels them (<see cref="TestMeshSeries"/>; by default Linkerd's <c>response_total</c> and
/// <c>response_latency_ms</c> and Istio's <c>istio_requests_total</c> and <c>istio_request_duration_milliseconds</c>), with
/// the workload <c>&lt;target&gt;</c> for the canary and <c>&lt;target&gt;-primary</c> for the primary. A version's series
/// appear with its first request. Flagger's built-in queries read them as they read the real data plane.
/// </summary>
public sealed class TestMeshMetrics : IAsyncDisposable
{
    private readonly TestMesh _mesh;
    private readonly TestMeshMetricsOptions _options;
    private readonly Lock _lock = new();
    private readonly Random _random;
    private readonly Dictionary<BackendRole, ArmState> _arms;
    // Pickers by what a rule routes (its position, destinations and weights, mirror): a re-read of an unchanged
    // routing object keeps the weighted round robin going, so small batches still reach a low-weight canary.
    private readonly Dictionary<string, TestMeshPicker> _rules = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private WebApplication? _app;
    private Task _generating = Task.CompletedTask;
    private TestMeshRoutes? _rulesFor;
    private long _unrouted;

    private TestMeshMetrics(TestMesh mesh, TestMeshMetricsOptions options)
    {
        _mesh = mesh;
        _options = options;
        _random = new Random(options.Seed);
        _arms = new Dictionary<BackendRole, ArmState>
        {
            [BackendRole.Primary] = new(options.Primary, Bounds(options)),
            [BackendRole.Canary] = new(options.Canary, Bounds(options)),
        };
    }

    private static IReadOnlyList<IReadOnlyList<double>> Bounds(TestMeshMetricsOptions options) =>
        [.. options.Series.Select(s => s.BucketsMs).Distinct()];

    /// <summary>The metrics endpoint, e.g. <c>http://127.0.0.1:40123/metrics</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Requests that found no route or no primary/canary backend (not counted in any series).</summary>
    public long Unrouted => Interlocked.Read(ref _unrouted);

    internal static async Task<TestMeshMetrics> StartAsync(TestMesh mesh, TestMeshMetricsOptions? options)
    {
        options ??= new TestMeshMetricsOptions();
        if (options.MatchShare is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), "MatchShare is a share between 0 and 1");
        if (options.RequestsPerSecond < 0) throw new ArgumentOutOfRangeException(nameof(options), "RequestsPerSecond cannot be negative");
        var metrics = new TestMeshMetrics(mesh, options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
        var app = builder.Build();
        app.Run(async context =>
        {
            if (context.Request.Path != "/metrics")
            {
                context.Response.StatusCode = 404;
                return;
            }
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.Response.WriteAsync(metrics.Render());
        });
        await app.StartAsync();
        metrics._app = app;
        metrics.Url = new Uri(new Uri(app.Urls.First()), "/metrics");
        if (options.RequestsPerSecond > 0) metrics._generating = Task.Run(() => metrics.GenerateLoopAsync(metrics._stop.Token));
        return metrics;
    }

    /// <summary>A Prometheus scrape target for <see cref="Url"/>.</summary>
    public ScrapeTarget ScrapeTarget(string job = "test-mesh") => TestKit.ScrapeTarget.Of(job, Url);

    /// <summary>Changes how a version behaves from now on (e.g. a canary that starts failing).</summary>
    public void SetArm(BackendRole role, TestMeshArm arm)
    {
        ArgumentNullException.ThrowIfNull(arm);
        if (arm.ErrorRate is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(arm), "ErrorRate is a share between 0 and 1");
        lock (_lock) _arms[role].Arm = arm;
    }

    public TestMeshArm Arm(BackendRole role)
    {
        lock (_lock) return _arms[role].Arm;
    }

    /// <summary>What a version answered so far.</summary>
    public TestMeshCounts Counts(BackendRole role)
    {
        lock (_lock)
        {
            var arm = _arms[role];
            return new TestMeshCounts(arm.ByStatus.Values.Sum(), arm.ByStatus.Where(s => s.Key >= 500).Sum(s => s.Value), new Dictionary<int, long>(arm.ByStatus));
        }
    }

    /// <summary>Routes <paramref name="requests"/> requests now by the mesh's current routing (besides the timer's).</summary>
    public void Generate(int requests)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(requests);
        var routes = _mesh.Routes;
        lock (_lock)
        {
            if (!ReferenceEquals(_rulesFor, routes))
            {
                var keep = routes.Rules.Select(Signature).ToHashSet(StringComparer.Ordinal);
                foreach (var stale in _rules.Keys.Where(k => !keep.Contains(k)).ToList()) _rules.Remove(stale);
                _rulesFor = routes;
            }
            var selective = routes.Rules.Any(r => r.Selective);
            for (var i = 0; i < requests; i++)
            {
                var matching = selective && _random.NextDouble() < _options.MatchShare;
                var rule = routes.SelectSynthetic(matching);
                if (rule is null)
                {
                    _unrouted++;
                    continue;
                }
                var key = Signature(rule, IndexOf(routes.Rules, rule));
                if (!_rules.TryGetValue(key, out var picker)) _rules[key] = picker = new TestMeshPicker(rule);
                var destination = picker.Next();
                if (destination?.Role is not { } role)
                {
                    _unrouted++;
                    continue;
                }
                Answer(role, destination.Service);
                if (rule.Mirror is { Role: { } mirrorRole } mirror && picker.TakeMirror()) Answer(mirrorRole, mirror.Service);
            }
        }
    }

    private static int IndexOf(IReadOnlyList<TestMeshRule> rules, TestMeshRule rule)
    {
        for (var i = 0; i < rules.Count; i++)
            if (ReferenceEquals(rules[i], rule)) return i;
        return -1;
    }

    private static string Signature(TestMeshRule rule, int index) =>
        $"{index}|{rule.Matches.Count}|{string.Join(",", rule.Destinations.Select(d => $"{d.Service}:{d.Role}:{d.Weight}"))}|{rule.Mirror}";

    /// <summary>The exposition text served at <see cref="Url"/>.</summary>
    public string Render()
    {
        var target = _mesh.Target;
        var w = new PrometheusWriter();
        lock (_lock)
        {
            var arms = new[] { BackendRole.Primary, BackendRole.Canary }.Where(r => _arms[r].Seen)
                .Select(r => _arms[r].Sample(r, r == BackendRole.Primary ? target.WorkloadName + "-primary" : target.WorkloadName))
                .ToList();
            foreach (var series in _options.Series) series.Write(w, target, arms);
        }
        return w.ToString();
    }

    private void Answer(BackendRole role, string backend)
    {
        var state = _arms[role];
        state.Backend = backend;
        var arm = state.Arm;
        var failed = _options.ErrorSpread == TestMeshErrorSpread.Random
            ? arm.ErrorRate > 0 && _random.NextDouble() < arm.ErrorRate
            : state.TakeError(arm.ErrorRate);
        var latency = Math.Max(0, arm.EffectiveLatency.Sample(_random));
        state.Record(failed ? arm.ErrorStatus : 200, latency);
    }

    private async Task GenerateLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.Tick);
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        var credit = 0.0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = clock.Elapsed;
                credit += _options.RequestsPerSecond * (now - last).TotalSeconds;
                last = now;
                var due = (int)Math.Floor(credit);
                credit -= due;
                if (due > 0) Generate(due);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync();
        await _generating;
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _stop.Dispose();
    }

    public override string ToString() => $"test mesh metrics of {_mesh.Target} at {Url}";

    private sealed class ArmState(TestMeshArm arm, IReadOnlyList<IReadOnlyList<double>> bounds)
    {
        public TestMeshArm Arm { get; set; } = arm;

        public bool Seen { get; private set; }

        /// <summary>The destination that answered last (a Knative revision, say).</summary>
        public string Backend { get; set; } = "";

        public SortedDictionary<int, long> ByStatus { get; } = [];

        // Per status: observations per bucket of each bound set (by reference), and the latency sum.
        private readonly SortedDictionary<int, (long[][] Buckets, double SumMs)> _latency = [];

        private double _errorCredit;

        /// <summary>Even spread: whether this request is the one that completes a whole failure.</summary>
        public bool TakeError(double errorRate)
        {
            if (errorRate <= 0) return false;
            _errorCredit += errorRate;
            // Tolerance for sums such as 0.1 × 10 that land just below 1 in binary floating point.
            if (_errorCredit < 1 - 1e-9) return false;
            _errorCredit -= 1;
            return true;
        }

        public void Record(int status, double latencyMs)
        {
            Seen = true;
            ByStatus[status] = ByStatus.GetValueOrDefault(status) + 1;
            if (!_latency.TryGetValue(status, out var latency))
                latency = ([.. bounds.Select(b => new long[b.Count + 1])], 0);
            for (var i = 0; i < bounds.Count; i++) latency.Buckets[i][Bucket(bounds[i], latencyMs)]++;
            _latency[status] = (latency.Buckets, latency.SumMs + latencyMs);
        }

        /// <summary>A copy of what this version answered, for the series to write.</summary>
        public TestMeshArmSample Sample(BackendRole role, string workload)
        {
            var copy = _latency.ToDictionary(l => l.Key, l => (Buckets: l.Value.Buckets.Select(b => (long[])b.Clone()).ToArray(), l.Value.SumMs));
            var byStatus = new SortedDictionary<int, long>(ByStatus);
            long[] Buckets(IReadOnlyList<double> boundsMs, int? status)
            {
                var index = -1;
                for (var i = 0; i < bounds.Count; i++) if (ReferenceEquals(bounds[i], boundsMs)) index = i;
                if (index < 0) throw new ArgumentException("these bounds are not one of the mesh's series' buckets", nameof(boundsMs));
                var sum = new long[boundsMs.Count + 1];
                foreach (var (code, latency) in copy)
                {
                    if (status is { } only && code != only) continue;
                    for (var i = 0; i < sum.Length; i++) sum[i] += latency.Buckets[index][i];
                }
                return sum;
            }
            double SumMs(int? status) => copy.Where(l => status is null || l.Key == status).Sum(l => l.Value.SumMs);
            return new TestMeshArmSample(role, workload, Backend, byStatus, Buckets, SumMs);
        }

        private static int Bucket(IReadOnlyList<double> bounds, double value)
        {
            for (var i = 0; i < bounds.Count; i++)
            {
                if (value <= bounds[i]) return i;
            }
            return bounds.Count;
        }
    }
}

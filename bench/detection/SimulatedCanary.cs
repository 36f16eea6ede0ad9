using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Primitives;

namespace Aviary.Bench.Detection;

/// <summary>
/// One simulated service with a primary and a canary behind a weighted router, seen by the real scheduler through the
/// same interfaces the local runtime implements: the workload, the router, Flagger's built-in metrics computed from the
/// requests of the metric window, and the per-arm counters the judge reads.
/// </summary>
/// <remarks>
/// Common random numbers: every request draws its arrival gap, routing number, error number and latency from one
/// stream, whatever the weights, and every minute draws its conditions from another. Two runs with the same seed
/// (threshold analysis and the judge) therefore see the same requests with the same fates; only where each request
/// goes differs once their decisions differ. A request fails on the canary when its error number is below the
/// canary's rate and on the primary when below the primary's: "failed because of the canary" is exactly the requests
/// between the two.
/// </remarks>
internal sealed class SimulatedCanary : IWorkload, IRouter, IMetricProvider, IArmCounters, IWebhookClient, INotifier
{
    private readonly World _world;
    private readonly Regression _regression;
    private readonly double _slowThresholdMs;
    private readonly double _logMedian;
    private Rng _requests;
    private Rng _minutes;
    private double _nextArrival;
    private int _revision;
    private double[] _window = new double[256];
    private int _windowCount;
    private int _windowErrors;
    private double _pRequests, _pErrors, _pSlow, _cRequests, _cErrors, _cSlow;

    public SimulatedCanary(World world, Regression regression, ulong seed, ulong trial, double slowThresholdMs)
    {
        _world = world;
        _regression = regression;
        _slowThresholdMs = slowThresholdMs;
        _logMedian = Math.Log(world.MedianLatencyMs);
        _requests = new Rng(Rng.Derive(seed, trial, 1));
        _minutes = new Rng(Rng.Derive(seed, trial, 2));
        _nextArrival = _requests.Exponential(world.Rps);
    }

    public RouteWeights Weights { get; private set; } = RouteWeights.AllPrimary;

    /// <summary>Requests the canary answered.</summary>
    public long CanaryRequests { get; private set; }

    /// <summary>Requests that failed only because the canary answered them (they would have succeeded on the primary).</summary>
    public long CausedErrors { get; private set; }

    public string Revision => Hashing.Fnv32aHex($"rev-{_revision}");
    public string PrimaryRevision { get; private set; } = Hashing.Fnv32aHex("rev-0");

    public void NewRevision() => _revision++;

    private double _errorRate, _canaryErrorRate, _latencyAdd;

    /// <summary>Serves one minute of traffic at the current weights; the metric window is this minute.</summary>
    public void ServeMinute()
    {
        BeginMinute();
        ServeUntil(60);
    }

    /// <summary>Starts a minute: draws its conditions and empties the metric window.</summary>
    public void BeginMinute()
    {
        // The minute's conditions are drawn whether or not they are used, so that every world sees the same streams.
        var z = _minutes.Normal();
        var incident = _minutes.Uniform() < World.IncidentChance;
        var errorRate = _world.BaselineErrorRate;
        double latencyAdd = 0;
        if (_world.SharedNoise)
        {
            errorRate *= Math.Exp(World.NoiseSigma * z - World.NoiseSigma * World.NoiseSigma / 2);
            if (incident)
            {
                errorRate += World.IncidentErrors;
                latencyAdd = World.IncidentLatencyMs;
            }
            errorRate = Math.Min(1, errorRate);
        }
        _errorRate = errorRate;
        _canaryErrorRate = Math.Min(1, errorRate + _regression.ErrorIncrease);
        _latencyAdd = latencyAdd;
        _windowCount = 0;
        _windowErrors = 0;
    }

    /// <summary>Serves the current minute's requests up to <paramref name="seconds"/> into it (60 ends the minute).</summary>
    public void ServeUntil(double seconds)
    {
        var (errorRate, canaryErrorRate, latencyAdd) = (_errorRate, _canaryErrorRate, _latencyAdd);
        var canaryShare = Weights.Canary / 100.0;
        var t = _nextArrival;
        while (t < seconds)
        {
            var route = _requests.Uniform();
            var fate = _requests.Uniform();
            var latency = Math.Exp(_logMedian + _world.LatencySigma * _requests.Normal()) + latencyAdd;
            if (route < canaryShare)
            {
                latency += _regression.LatencyIncreaseMs;
                var failed = fate < canaryErrorRate;
                CanaryRequests++;
                if (failed && fate >= errorRate) CausedErrors++;
                _cRequests++;
                if (failed) _cErrors++;
                if (latency > _slowThresholdMs) _cSlow++;
                if (_windowCount == _window.Length) Array.Resize(ref _window, _window.Length * 2);
                _window[_windowCount++] = latency;
                if (failed) _windowErrors++;
            }
            else
            {
                _pRequests++;
                if (fate < errorRate) _pErrors++;
                if (latency > _slowThresholdMs) _pSlow++;
            }
            t += _requests.Exponential(_world.Rps);
        }
        _nextArrival = seconds >= 60 ? t - 60 : t;
    }

    // ---- IMetricProvider: Flagger's built-in queries over the last minute of the canary's requests ----

    public ValueTask<MetricSample> QueryAsync(CanaryPolicy canary, MetricCheck metric, CancellationToken cancellationToken)
    {
        if (metric.Interval != TimeSpan.FromMinutes(1)) throw new InvalidOperationException("the benchmark's metric windows are one minute");
        if (_windowCount == 0) return ValueTask.FromResult(MetricSample.NoData("no requests in the window"));
        return ValueTask.FromResult(metric.Name switch
        {
            MetricCheck.RequestSuccessRate => MetricSample.Of(100.0 * (_windowCount - _windowErrors) / _windowCount),
            MetricCheck.RequestDuration => MetricSample.Of(P99()),
            _ => MetricSample.Failed($"the benchmark has no metric {metric.Name}"),
        });
    }

    /// <summary>The 99th percentile of the window's latencies (nearest rank): what histogram_quantile estimates.</summary>
    private double P99()
    {
        var span = _window.AsSpan(0, _windowCount);
        span.Sort();
        var rank = (int)Math.Ceiling(0.99 * span.Length);
        return span[Math.Clamp(rank - 1, 0, span.Length - 1)];
    }

    // ---- IArmCounters: cumulative counts per arm, as the built-in router keeps them ----

    public ValueTask<Outcome<ArmCounts>> ReadAsync(CanaryPolicy canary, double slowThresholdMs, CancellationToken cancellationToken)
    {
        if (slowThresholdMs != _slowThresholdMs) throw new InvalidOperationException("slow threshold differs from the simulation's");
        return ValueTask.FromResult(Outcome<ArmCounts>.Ok(new ArmCounts(new ArmSample(_pRequests, _pErrors, _pSlow), new ArmSample(_cRequests, _cErrors, _cSlow))));
    }

    // ---- IRouter ----

    public ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok;

    public ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<RouteWeights>.Ok(Weights));

    public ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        Weights = weights;
        return Ok;
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        Weights = RouteWeights.AllPrimary;
        return Ok;
    }

    // ---- IWorkload: always ready ----

    public ValueTask<Outcome> EnsurePrimaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok;

    public ValueTask<Outcome<WorkloadState>> ObserveAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Outcome<WorkloadState>.Ok(new WorkloadState(Revision, Readiness.IsReady, Readiness.IsReady, PrimaryRevision: PrimaryRevision)));

    public ValueTask<Outcome> ScaleUpCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok;

    public ValueTask<Outcome> ScaleDownCanaryAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok;

    public ValueTask<Outcome> PromoteAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        PrimaryRevision = Revision;
        return Ok;
    }

    public ValueTask<Outcome> RevertAsync(CanaryPolicy canary, CancellationToken cancellationToken) => Ok;

    // ---- no webhooks, no alerts ----

    public ValueTask<WebhookResult> CallAsync(WebhookCheck hook, WebhookPayload payload, CancellationToken cancellationToken) =>
        ValueTask.FromResult(WebhookResult.FromStatus(200));

    public ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private static ValueTask<Outcome> Ok => ValueTask.FromResult(Outcome.Ok);
}

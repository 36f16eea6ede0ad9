namespace Aviary.Bench.Detection;

/// <summary>xoshiro256** seeded through SplitMix64: fast, and the same numbers on every machine and .NET version.</summary>
internal struct Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    public Rng(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
        _spare = 0;
        _hasSpare = false;
    }

    /// <summary>A seed for stream <paramref name="stream"/> of trial <paramref name="trial"/> under <paramref name="seed"/>.</summary>
    public static ulong Derive(ulong seed, ulong trial, ulong stream)
    {
        var x = seed ^ (trial * 0x9E3779B97F4A7C15UL) ^ (stream * 0xD1B54A32D192ED03UL);
        return SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform on [0, 1).</summary>
    public double Uniform() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform on (0, 1].</summary>
    public double UniformOpen() => ((Next() >> 11) + 1) * (1.0 / (1UL << 53));

    public double Exponential(double rate) => -Math.Log(UniformOpen()) / rate;

    /// <summary>Standard normal (Marsaglia's polar method; pairs are used in turn).</summary>
    public double Normal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double u, v, s;
        do
        {
            u = 2 * Uniform() - 1;
            v = 2 * Uniform() - 1;
            s = u * u + v * v;
        }
        while (s >= 1 || s == 0);
        var f = Math.Sqrt(-2 * Math.Log(s) / s);
        _spare = v * f;
        _hasSpare = true;
        return u * f;
    }
}

/// <summary>What the canary does differently from the primary.</summary>
/// <param name="ErrorIncrease">Added error rate, a fraction (0.02 = +2 pp).</param>
/// <param name="LatencyIncreaseMs">Added to every request's latency.</param>
internal sealed record Regression(double ErrorIncrease, double LatencyIncreaseMs)
{
    public static Regression None { get; } = new(0, 0);

    public bool IsBad => ErrorIncrease > 0 || LatencyIncreaseMs > 0;
}

/// <summary>
/// The service both versions run in: requests arrive as a Poisson process, each fails with the baseline error rate
/// and takes a log-normal time; with <see cref="SharedNoise"/> both versions also share minute-to-minute
/// fluctuations (a dependency that gets flaky or slow for everybody).
/// </summary>
internal sealed record World(double Rps, double BaselineErrorRate, double MedianLatencyMs, double LatencySigma, bool SharedNoise)
{
    /// <summary>Sigma of the per-minute log-normal factor on the error rate (with shared noise).</summary>
    public const double NoiseSigma = 0.5;

    /// <summary>Chance that a minute is an incident for both versions (with shared noise).</summary>
    public const double IncidentChance = 0.02;

    /// <summary>Error rate added during an incident minute.</summary>
    public const double IncidentErrors = 0.05;

    /// <summary>Latency added during an incident minute.</summary>
    public const double IncidentLatencyMs = 150;

    /// <summary>The baseline's p99 latency (the log-normal's 99th percentile).</summary>
    public double P99Ms => MedianLatencyMs * Math.Exp(2.326348 * LatencySigma);

    /// <summary>Share of baseline requests slower than <paramref name="ms"/>.</summary>
    public double SlowerThan(double ms) => 0.5 * Erfc(Math.Log(ms / MedianLatencyMs) / LatencySigma / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        // Numerical Recipes' erfc (fractional error < 1.2e-7): enough for a printed share.
        var z = Math.Abs(x);
        var t = 1 / (1 + 0.5 * z);
        var r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}

/// <summary>One minute's conditions for both versions.</summary>
internal readonly record struct Minute(double ErrorRate, double LatencyFactor, double LatencyAddMs);

using Aviary.Core.Primitives;

namespace Aviary.Metrics.Providers;

/// <summary>
/// Reads what a vendor's metric provider needs from its <see cref="MetricProviderContext"/> — the address, secret keys,
/// the metric interval — keeping the first problem as the one error to report, in the provider's words
/// (<c>datadog credentials do not contain datadog_api_key</c>). Use: read everything, then check <see cref="Error"/>.
/// </summary>
internal sealed class ProviderSetup(MetricProviderContext context, string type)
{
    /// <summary>The first problem met, or null.</summary>
    public string? Error { get; private set; }

    /// <summary><c>spec.provider.address</c>, else <paramref name="fallback"/>; required when there is no fallback.</summary>
    public Uri Address(string? fallback, string? missing = null)
    {
        var address = string.IsNullOrWhiteSpace(context.Spec.Address) ? fallback : context.Spec.Address.Trim();
        if (string.IsNullOrEmpty(address)) return Fail(missing ?? $"{type} address is empty: set spec.provider.address", new Uri("http://invalid"));
        if (!Uri.TryCreate(address, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            return Fail($"{type} address {address} is not a valid URL", new Uri("http://invalid"));
        return url;
    }

    /// <summary>The secret's <paramref name="key"/>, required and not empty.</summary>
    public string Credential(string key, string? missing = null)
    {
        if (context.Credentials.TryGetValue(key, out var value) && value.Length > 0) return value;
        return Fail(missing ?? $"{type} credentials do not contain {key}", "");
    }

    /// <summary>The metric's interval (a Go duration such as <c>1m</c>).</summary>
    public TimeSpan Interval()
    {
        if (GoDuration.TryParse(context.MetricInterval, out var interval) && interval > TimeSpan.Zero) return interval;
        return Fail($"{type}: cannot read the metric interval '{context.MetricInterval}'", TimeSpan.FromMinutes(1));
    }

    private T Fail<T>(string error, T placeholder)
    {
        Error ??= error;
        return placeholder;
    }
}

using Aviary.Core.Abstractions;
using Aviary.Metrics.Prometheus;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: prometheus</c>: instant queries through <see cref="PrometheusClient"/>. The address is
/// <c>spec.provider.address</c>, else the secret's <c>address</c> key (an Aviary addition). With a <c>secretRef</c>,
/// the secret's <c>token</c> is sent as a bearer token, else its <c>username</c> and <c>password</c> (both required,
/// as in Flagger) as basic auth. <c>headers</c> and <c>insecureSkipVerify</c> apply as in Flagger.
/// </summary>
internal sealed class PrometheusProvider(PrometheusClient client) : IMetricQueryProvider
{
    public const string TypeName = "prometheus";

    public string Type => TypeName;

    public PrometheusClient Client => client;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var spec = context.Spec;
        var address = !string.IsNullOrWhiteSpace(spec.Address) ? spec.Address.Trim() : context.Credentials.GetValueOrDefault("address")?.Trim();
        if (string.IsNullOrEmpty(address))
            return Outcome<IMetricQueryProvider>.Fail($"{TypeName} address is empty: set spec.provider.address");
        if (!Uri.TryCreate(address, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            return Outcome<IMetricQueryProvider>.Fail($"{TypeName} address {address} is not a valid URL");

        PrometheusAuth? auth = null;
        if (spec.SecretRef is not null)
        {
            if (context.Credentials.TryGetValue("token", out var token))
                auth = PrometheusAuth.Bearer(Credential.FromValue(token));
            else if (!context.Credentials.TryGetValue("username", out var username))
                return Outcome<IMetricQueryProvider>.Fail($"{TypeName} credentials (secret {spec.SecretRef.Name}) do not contain a token or a username");
            else if (!context.Credentials.TryGetValue("password", out var password))
                return Outcome<IMetricQueryProvider>.Fail($"{TypeName} credentials (secret {spec.SecretRef.Name}) do not contain a password");
            else
                auth = PrometheusAuth.Basic(Credential.FromValue(username), Credential.FromValue(password));
        }

        var options = new PrometheusClientOptions
        {
            Address = url,
            Timeout = context.Timeout,
            Auth = auth,
            InsecureSkipVerify = spec.InsecureSkipVerify == true,
            Headers = spec.Headers ?? new Dictionary<string, IReadOnlyList<string>>(),
        };
        return new PrometheusProvider(new PrometheusClient(options, context.Time));
    }

    public ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken) => client.QueryAsync(query, cancellationToken);

    public ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken) => client.IsOnlineAsync(cancellationToken);

    public void Dispose() => client.Dispose();
}

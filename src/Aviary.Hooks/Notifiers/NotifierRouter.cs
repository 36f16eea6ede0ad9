using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Hooks.Secrets;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Notifiers;

/// <summary>Finds an AlertProvider by namespace and name; null when there is none.</summary>
public delegate ValueTask<AlertProvider?> AlertProviderLookup(string @namespace, string name, CancellationToken cancellationToken);

/// <summary>Options of <see cref="NotifierRouter"/>.</summary>
public sealed record NotifierRouterOptions
{
    /// <summary>The timeout of one post. Default 5 s, Flagger's.</summary>
    public TimeSpan PostTimeout { get; init; } = ServiceNotifier.DefaultTimeout;

    /// <summary>The channel when an AlertProvider names none. Default <c>general</c>, Flagger's.</summary>
    public string DefaultChannel { get; init; } = NotifierTarget.DefaultChannel;

    /// <summary>The user name when an AlertProvider names none. Default <c>aviary</c>.</summary>
    public string DefaultUsername { get; init; } = NotifierTarget.DefaultUsername;
}

/// <summary>
/// The runtime's <see cref="INotifier"/>: sends an alert through the AlertProvider it names, found with the lookup
/// function in the reference's namespace or else the canary's, with the address from <c>spec.address</c> or the
/// secret's <c>address</c> key (and Slack's bearer from its <c>token</c> key). A notifier is built per provider and
/// kept while the provider's type, address, token, proxy, channel and user name stay the same. An alert without a
/// provider goes to the default notifier. An unknown provider, a bad secret or a failed post is logged — without the
/// address — and the alert is dropped: nothing is thrown into the scheduler, and there is no fallback to the default.
/// </summary>
public sealed partial class NotifierRouter : INotifier, IDisposable
{
    private readonly AlertProviderLookup _lookup;
    private readonly ISecretSource _secrets;
    private readonly INotifier _default;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly NotifierRouterOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Key Key, ServiceNotifier Notifier)> _notifiers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <param name="lookup">Finds AlertProviders.</param>
    /// <param name="secrets">Reads the secrets of <c>spec.secretRef</c>.</param>
    /// <param name="defaultNotifier">Receives alerts of canaries without <c>analysis.alerts</c>, e.g. a logging notifier.</param>
    public NotifierRouter(
        AlertProviderLookup lookup,
        ISecretSource secrets,
        INotifier defaultNotifier,
        ILogger logger,
        TimeProvider time,
        NotifierRouterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(defaultNotifier);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _lookup = lookup;
        _secrets = secrets;
        _default = defaultNotifier;
        _logger = logger;
        _time = time;
        _options = options ?? new NotifierRouterOptions();
    }

    /// <summary>Notifiers built and kept, one per provider.</summary>
    public int CachedNotifiers
    {
        get
        {
            lock (_gate) return _notifiers.Count;
        }
    }

    public async ValueTask PostAsync(NamedReference? provider, Alert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var canary = $"{alert.Canary}.{alert.Namespace}";
        try
        {
            if (provider is null)
            {
                await _default.PostAsync(null, alert, cancellationToken).ConfigureAwait(false);
                return;
            }
            var result = await SendAsync(provider, alert, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded) LogNotSent(_logger, canary, result.Error!);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // An alert must never fail the tick that raised it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // The exception's text may hold an address: only its type is logged.
            LogUnexpected(_logger, canary, e.GetType().Name);
        }
    }

    /// <summary>
    /// Sends <paramref name="alert"/> through the AlertProvider <paramref name="provider"/> names and reports how it went;
    /// the error names the provider, never its address or token.
    /// </summary>
    public async ValueTask<Outcome> SendAsync(NamedReference provider, Alert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(alert);
        var ns = string.IsNullOrEmpty(provider.Namespace) ? alert.Namespace : provider.Namespace;
        var id = $"{provider.Name}.{ns}";
        var found = await _lookup(ns, provider.Name, cancellationToken).ConfigureAwait(false);
        if (found is null) return Outcome.Fail($"alert provider {id} not found");
        var spec = found.Spec;

        var address = spec.Address;
        string? token = null;
        if (spec.SecretRef is { } secretRef)
        {
            var secret = await _secrets.GetAsync(ns, secretRef.Name, cancellationToken).ConfigureAwait(false);
            if (!secret.Succeeded) return Outcome.Fail($"alert provider {id} secretRef error: {secret.Error}");
            if (!secret.Value!.TryGetValue("address", out address) || string.IsNullOrWhiteSpace(address))
                return Outcome.Fail($"alert provider {id} secret {secretRef.Name} does not contain an address");
            secret.Value.TryGetValue("token", out token);
        }
        if (string.IsNullOrWhiteSpace(address)) return Outcome.Fail($"alert provider {id} has no address");
        address = address.Trim();

        var key = new Key(spec.Type, address, token, spec.Proxy ?? "",
            string.IsNullOrEmpty(spec.Channel) ? _options.DefaultChannel : spec.Channel,
            string.IsNullOrEmpty(spec.Username) ? _options.DefaultUsername : spec.Username);
        var notifier = GetOrCreate(id, key, out var error);
        if (notifier is null) return Outcome.Fail($"alert provider {id} error: {error}");

        var sent = await notifier.SendAsync(alert, cancellationToken).ConfigureAwait(false);
        return sent.Succeeded ? sent : Outcome.Fail($"alert provider {id} send error: {sent.Error}");
    }

    private ServiceNotifier? GetOrCreate(string id, Key key, out string? error)
    {
        error = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_notifiers.TryGetValue(id, out var cached) && cached.Key == key) return cached.Notifier;

            if (!Uri.TryCreate(key.Address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                error = "the address is not an absolute http or https URL";
                return null;
            }
            Uri? proxy = null;
            if (key.Proxy.Length > 0 && (!Uri.TryCreate(key.Proxy, UriKind.Absolute, out proxy) || proxy.Scheme is not ("http" or "https")))
            {
                // The proxy may hold credentials: it is not quoted either.
                error = "spec.proxy is not an absolute http or https URL";
                return null;
            }
            if (!_clients.TryGetValue(key.Proxy, out var client))
            {
                client = ServiceNotifier.CreateHttpClient(proxy);
                _clients[key.Proxy] = client;
            }
            var target = new NotifierTarget { Address = uri, Token = key.Token, Proxy = proxy, Channel = key.Channel, Username = key.Username };
            var created = ServiceNotifier.Create(key.Type, target, client, _time, _logger, _options.PostTimeout);
            if (!created.Succeeded)
            {
                error = created.Error;
                return null;
            }
            _notifiers[id] = (key, created.Value!);
            return created.Value;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var client in _clients.Values) client.Dispose();
            _clients.Clear();
            _notifiers.Clear();
        }
    }

    /// <summary>What a built notifier depends on. Holds secrets: never printed.</summary>
    private sealed record Key(string Type, string Address, string? Token, string Proxy, string Channel, string Username)
    {
        public override string ToString() => $"{Type} notifier";
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "alert for {Canary} not sent: {Error}")]
    private static partial void LogNotSent(ILogger logger, string canary, string error);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "alert for {Canary} can't be sent: unexpected {ExceptionType}")]
    private static partial void LogUnexpected(ILogger logger, string canary, string exceptionType);
}

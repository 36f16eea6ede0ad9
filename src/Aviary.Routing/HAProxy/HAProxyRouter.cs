using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.HAProxy;

/// <summary>
/// The <c>haproxy</c> router (an Aviary extension of Flagger's providers): splits a canary service's traffic through
/// HAProxy, driven only through its runtime API.
/// <list type="bullet">
/// <item>Generate mode (<see cref="HAProxyOptions.StateDirectory"/>): one HAProxy for all services, started on the first
/// <see cref="ReconcileAsync"/>, supervised (started again when it dies) and stopped on dispose. Each service gets a
/// frontend on <c>service.port</c> and a backend of server slots, <c>primary1..N</c> and <c>canary1..N</c>. Adding a
/// service rewrites the configuration and reloads HAProxy; nothing else ever does.</item>
/// <item>Attach mode (<see cref="HAProxyOptions.Attach"/>): an HAProxy run by someone else; each service names its
/// backend and the servers of each role.</item>
/// </list>
/// Weights: a role's percentage is split over its ready servers so that the roles' sums of server weights are in the
/// exact ratio of the percentages (see <see cref="GetRoutesAsync"/>). Instances published through
/// <see cref="IBackendRegistry"/> fill free slots (<c>set server … addr</c>, <c>state ready</c>); removed ones are put
/// in <c>drain</c> and freed (<c>maint</c>) once HAProxy reports no session on them. A role for which no endpoints
/// were ever published (typical in attach mode) keeps HAProxy's own servers and states; only their weights change.
/// <para>Not supported, because the runtime API cannot change ACLs or add mirroring: A/B testing
/// (<c>analysis.match</c>), mirroring and session affinity — requests for them fail with a message that says so.</para>
/// <para><see cref="SetEndpoints"/> returns at once and applies in the background; <see cref="DrainAsync"/>,
/// <see cref="SetRoutesAsync"/>, <see cref="GetRoutesAsync"/> and <see cref="FlushAsync"/> first wait for it.</para>
/// </summary>
public sealed class HAProxyRouter : IRouter, IBackendRegistry, IAsyncDisposable
{
    private readonly HAProxyOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RuntimeApiClient _api;
    private readonly HAProxyPaths? _paths;
    private readonly HAProxyProcess? _process;
    private readonly Lock _state = new();
    private readonly Dictionary<string, ServiceState> _services = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _apply = new(1, 1);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _applier;
    private bool _disposed;

    /// <param name="options">Mode, paths, slots and timeouts; see <see cref="HAProxyOptions"/> for the defaults.</param>
    /// <param name="timeProvider">The clock of timeouts, drains and restarts.</param>
    /// <param name="loggerFactory">Logs under <c>Aviary.Routing.HAProxy.HAProxyRouter</c>.</param>
    /// <exception cref="ArgumentException">An option is invalid (every problem is named).</exception>
    public HAProxyRouter(HAProxyOptions options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger<HAProxyRouter>();
        if (options.Attach is { } attach)
        {
            _api = new RuntimeApiClient(attach.SocketPath, options.CommandTimeout, timeProvider);
            foreach (var b in attach.Backends)
                _services[b.Service] = new ServiceState(b.Service) { Backend = b.Backend, Attachment = b };
        }
        else
        {
            var directory = Path.GetFullPath(options.StateDirectory!);
            Directory.CreateDirectory(directory);
            _paths = new HAProxyPaths(directory);
            _process = new HAProxyProcess(options, _paths, timeProvider, _logger, ApplyAfterRestartAsync);
            _api = _process.Api;
        }
        _applier = Task.Run(() => ApplyLoopAsync(_stop.Token));
    }

    public HAProxyMode Mode => _options.Mode;

    /// <summary>The stats socket Aviary talks to.</summary>
    public string SocketPath => _api.SocketPath;

    /// <summary>Generate mode: the configuration file Aviary writes; null in attach mode.</summary>
    public string? ConfigPath => _paths?.Config;

    /// <summary>Generate mode: the port of the Prometheus exporter (<c>http://127.0.0.1:port/metrics</c>), if any.</summary>
    public int? MetricsPort => _options.MetricsPort;

    /// <summary>Generate mode: the HAProxy master's process id while it runs.</summary>
    public int? ProcessId => _process?.MasterPid;

    /// <summary>Generate mode: how many times the supervisor started HAProxy again after it died.</summary>
    public int Restarts => _process?.Restarts ?? 0;

    /// <summary>A runtime API client on <see cref="SocketPath"/>, for diagnostics.</summary>
    public RuntimeApiClient RuntimeApi => _api;

    /// <summary>
    /// The label values of HAProxy's Prometheus metrics for <paramref name="service"/>: in generate mode
    /// <c>proxy</c> is the service name (the backend) and the canary slots are <c>canary1..N</c>; in attach mode the
    /// configured backend and server names.
    /// </summary>
    public HAProxyMetricLabels MetricLabels(string service)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        if (_options.Attach?.Backends.FirstOrDefault(b => b.Service == service) is { } a)
            return new HAProxyMetricLabels(a.Backend, Pattern(a.PrimaryServers), Pattern(a.CanaryServers));
        return new HAProxyMetricLabels(service, HAProxyConfig.PrimaryPrefix + "[0-9]+", HAProxyConfig.CanaryPrefix + "[0-9]+");

        static string Pattern(IReadOnlyList<string> names) => string.Join("|",
            names.Select(n => n.EndsWith('*') ? Regex.Escape(n[..^1]) + ".*" : Regex.Escape(n)));
    }

    // ---------------------------------------------------------------------------------------------------- IRouter

    public async ValueTask<Outcome> ReconcileAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (Unsupported(canary) is { } unsupported) return Outcome.Fail(unsupported);
        var service = canary.Id;
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var added = _options.Mode == HAProxyMode.Generate
                ? await RegisterGeneratedAsync(canary, cancellationToken).ConfigureAwait(false)
                : await RegisterAttachedAsync(service, cancellationToken).ConfigureAwait(false);
            if (!added.Succeeded) return added;
            var state = Get(service)!;
            lock (_state)
            {
                if (!state.Dirty && state.Weights is not null) return Outcome.Ok;
            }
            if (state.Weights is null)
            {
                // Routing objects exist already (attach mode, or a restarted controller): keep their weights, as the
                // built-in router keeps its saved ones; otherwise everything goes to the primary.
                var observed = await ObserveRoutesAsync(state, cancellationToken, adopting: true).ConfigureAwait(false);
                lock (_state) state.Weights ??= observed.Succeeded && observed.Value.Derived ? observed.Value.Weights : RouteWeights.AllPrimary;
            }
            return await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _apply.Release();
        }
    }

    /// <summary>
    /// The role shares computed from HAProxy's current server weights (<c>uweight</c> of the ready servers of each
    /// role): exact for weights this router set; weights set by someone else are rounded to the nearest percent of the
    /// canary. While a role has no ready server its share cannot be read from HAProxy, and the weights last set (or
    /// found at reconcile) are returned.
    /// </summary>
    public async ValueTask<Outcome<RouteWeights>> GetRoutesAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (Get(canary.Id) is not { Registered: true } state) return Outcome<RouteWeights>.Fail(NotReconciled(canary.Id));
        var flushed = await FlushAsync(canary.Id, cancellationToken).ConfigureAwait(false);
        if (!flushed.Succeeded) return Outcome<RouteWeights>.Fail(flushed.Error!);
        var observed = await ObserveRoutesAsync(state, cancellationToken).ConfigureAwait(false);
        return observed.Succeeded ? Outcome<RouteWeights>.Ok(observed.Value.Weights) : Outcome<RouteWeights>.Fail(observed.Error!);
    }

    /// <summary>Sets the server weights (increases first, so that no moment leaves every server at 0), then reads
    /// them back: fails when HAProxy does not report the weights asked for.</summary>
    public async ValueTask<Outcome> SetRoutesAsync(CanaryPolicy canary, RouteWeights weights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canary);
        if (Unsupported(canary, weights.Mirrored) is { } unsupported) return Outcome.Fail(unsupported);
        if (weights.Primary is < 0 or > 100 || weights.Canary is < 0 or > 100 || weights.Primary + weights.Canary != 100)
            return Outcome.Fail($"cannot route {canary.Id}: weights {weights} do not add up to 100");
        if (Get(canary.Id) is not { Registered: true } state) return Outcome.Fail(NotReconciled(canary.Id));

        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_state)
            {
                state.Weights = weights;
                state.Dirty = true;
            }
            var applied = await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
            if (!applied.Succeeded) return applied;
            var observed = await ObserveRoutesAsync(state, cancellationToken).ConfigureAwait(false);
            if (!observed.Succeeded) return Outcome.Fail(observed.Error!);
            return observed.Value.Weights == weights
                ? Outcome.Ok
                : Outcome.Fail($"cannot route {canary.Id}: HAProxy reports {observed.Value.Weights} after setting {weights}");
        }
        finally
        {
            _apply.Release();
        }
    }

    public ValueTask<Outcome> FinalizeAsync(CanaryPolicy canary, CancellationToken cancellationToken) =>
        SetRoutesAsync(canary, RouteWeights.AllPrimary, cancellationToken);

    // The runtime API cannot change the ACLs that header matching or session affinity would need, and HAProxy 2.6 has no
    // request mirroring it could turn on: RouterCapabilities lists haproxy as weights only.
    private static string? Unsupported(CanaryPolicy canary, bool mirrored = false) => RouterCapabilities.Refusal(canary, Providers.HAProxy, mirrored);

    private string NotReconciled(string service) => _options.Mode == HAProxyMode.Attach && Get(service) is null
        ? $"the haproxy router has no backend configured for {service}"
        : $"{service} is not routed by HAProxy yet (reconcile it first)";

    // ------------------------------------------------------------------------------------------- IBackendRegistry

    /// <inheritdoc/>
    /// <remarks>Applied in the background (see the class remarks). Addresses must be IP addresses (or <c>localhost</c>).
    /// Endpoints beyond <see cref="HAProxyOptions.SlotsPerRole"/> (or the attached role's servers) get no traffic and are logged.</remarks>
    /// <exception cref="ArgumentException">An id is empty or repeated, or an address is not an http URI with an IP address.</exception>
    public void SetEndpoints(string service, BackendRole role, IReadOnlyList<BackendEndpoint> endpoints)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(endpoints);
        List<string> errors = [];
        HashSet<string> ids = new(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            if (endpoint is null) { errors.Add("null endpoint"); continue; }
            if (string.IsNullOrEmpty(endpoint.Id)) errors.Add("empty endpoint id");
            else if (!ids.Add(endpoint.Id)) errors.Add($"endpoint id '{endpoint.Id}' is repeated");
            if (endpoint.Address is not { IsAbsoluteUri: true, Scheme: "http" } || IpOf(endpoint.Address) is null)
                errors.Add($"endpoint '{endpoint.Id}': address '{endpoint.Address}' is not an http URI with an IP address");
        }
        if (errors.Count > 0) throw new ArgumentException("Invalid endpoints: " + string.Join("; ", errors), nameof(endpoints));
        lock (_state)
        {
            var state = GetOrAdd(service);
            state.SetEndpoints(role, [.. endpoints]);
            state.Dirty = true;
        }
        HAProxyLog.EndpointsChanged(_logger, service, role.ToString(), string.Join(", ", endpoints.Select(e => $"{e.Id}={e.Address}")));
        _wake.Writer.TryWrite(true);
    }

    public IReadOnlyList<BackendEndpoint> GetEndpoints(string service, BackendRole role)
    {
        lock (_state) return _services.TryGetValue(service, out var state) ? state.EndpointsOf(role) ?? [] : [];
    }

    /// <summary>Waits until HAProxy reports no session (<c>scur</c>) and no queued request on the endpoint's slot, then
    /// frees the slot (<c>maint</c>) if the endpoint was removed. True at once for an unknown endpoint; false on timeout.</summary>
    public async Task<bool> DrainAsync(string service, string endpointId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Get(service) is not { } state) return true;
        var deadline = _time.GetUtcNow() + timeout;
        await FlushAsync(service, cancellationToken).ConfigureAwait(false);
        long sessions = 0;
        while (true)
        {
            Dictionary<string, bool> slots;
            lock (_state) slots = state.Assignments.Where(a => a.Value.Endpoint.Id == endpointId).ToDictionary(a => a.Key, a => a.Value.Draining);
            if (slots.Count == 0) return true;
            var stats = await _api.ShowServerStatsAsync(state.Backend!, cancellationToken).ConfigureAwait(false);
            if (stats.Succeeded)
            {
                var rows = stats.Value!.Where(r => slots.ContainsKey(r.Name)).ToList();
                sessions = rows.Sum(r => r.CurrentSessions + r.CurrentQueue);
                // A removed endpoint is idle only once HAProxy has it draining: before that, new requests may still come.
                var stopped = rows.All(r => !slots[r.Name] || r.Status is ServerStatus.Drain or ServerStatus.Maint);
                if (sessions == 0 && stopped)
                {
                    await FreeDrainedAsync(state, endpointId, cancellationToken).ConfigureAwait(false);
                    return true;
                }
            }
            if (_time.GetUtcNow() >= deadline)
            {
                HAProxyLog.DrainTimedOut(_logger, service, endpointId, sessions, timeout);
                return false;
            }
            await Task.Delay(_options.DrainPollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task FreeDrainedAsync(ServiceState state, string endpointId, CancellationToken cancellationToken)
    {
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<string> freed;
            lock (_state)
            {
                freed = state.Assignments.Where(a => a.Value.Endpoint.Id == endpointId && a.Value.Draining).Select(a => a.Key).ToList();
                foreach (var slot in freed) state.Assignments.Remove(slot);
            }
            foreach (var slot in freed)
            {
                // A failure here is repaired by the next apply, which puts every free slot in maintenance.
                var result = await _api.SetServerStateAsync(state.Backend!, slot, ServerAdminState.Maint, cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded) MarkDirty(state);
                HAProxyLog.Drained(_logger, state.Service, endpointId, slot);
            }
        }
        finally
        {
            _apply.Release();
        }
    }

    /// <summary>Applies pending endpoint changes of <paramref name="service"/> to HAProxy now.</summary>
    public async Task<Outcome> FlushAsync(string service, CancellationToken cancellationToken)
    {
        if (Get(service) is not { } state) return Outcome.Ok;
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_state)
            {
                if (!state.Dirty) return Outcome.Ok;
            }
            return await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _apply.Release();
        }
    }

    // ------------------------------------------------------------------------------------------------ registration

    private async Task<Outcome> RegisterGeneratedAsync(CanaryPolicy canary, CancellationToken cancellationToken)
    {
        var service = canary.Id;
        if (canary.ServicePort is not { } port) return Outcome.Fail($"{service}: spec.service.port is required by the haproxy router");
        if (!IsName(service)) return Outcome.Fail($"{service}: not usable as an HAProxy backend name (letters, digits, '-', '_', '.', ':')");
        ServiceState state;
        List<GeneratedService> services;
        lock (_state)
        {
            state = GetOrAdd(service);
            if (state.Registered && state.Port == port && _process!.IsRunning) return Outcome.Ok;
            var inConfig = _services.Values.Where(s => s.Registered && s.Service != service && s.Port is not null)
                .Select(s => new GeneratedService(s.Service, s.Backend!, s.Port!.Value)).ToList();
            if (inConfig.Any(s => s.Port == port))
                return Outcome.Fail($"{service}: port {port} is already routed for {inConfig.First(s => s.Port == port).Service}");
            services = [.. inConfig, new GeneratedService(service, service, port)];
        }
        var changed = await WriteConfigAsync(services, cancellationToken).ConfigureAwait(false);
        var result = !_process!.IsRunning
            ? await _process.StartAsync(cancellationToken).ConfigureAwait(false)
            : changed ? await _process.ReloadAsync(cancellationToken).ConfigureAwait(false) : Outcome.Ok;
        if (!result.Succeeded)
        {
            // Leave the service out, so that it does not hold back the others; the next reconcile tries again.
            lock (_state) state.Registered = false;
            await WriteConfigAsync(services.Where(s => s.Service != service), cancellationToken).ConfigureAwait(false);
            return Outcome.Fail($"cannot route {service} through HAProxy: {result.Error}");
        }
        List<ServiceState> others;
        lock (_state)
        {
            state.Backend = service;
            state.Port = port;
            state.Registered = true;
            state.PrimarySlots = Slots(HAProxyConfig.PrimaryPrefix);
            state.CanarySlots = Slots(HAProxyConfig.CanaryPrefix);
            // The new process (started or reloaded) must show every service as Aviary wants it.
            foreach (var s in _services.Values) s.Dirty = true;
            others = _services.Values.Where(s => s.Registered && s != state).ToList();
        }
        HAProxyLog.ServiceAdded(_logger, service, service, $"{_options.BindAddress}:{port}");
        foreach (var other in others) await ApplyAsync(other, cancellationToken).ConfigureAwait(false);
        return Outcome.Ok;

        string[] Slots(string prefix) => Enumerable.Range(1, _options.SlotsPerRole).Select(i => HAProxyConfig.SlotName(prefix, i)).ToArray();
    }

    private async Task<bool> WriteConfigAsync(IEnumerable<GeneratedService> services, CancellationToken cancellationToken)
    {
        var text = HAProxyConfig.Render(_options, _paths!, services);
        if (File.Exists(_paths!.Config) && await File.ReadAllTextAsync(_paths.Config, cancellationToken).ConfigureAwait(false) == text) return false;
        var temp = _paths.Config + ".tmp";
        await File.WriteAllTextAsync(temp, text, cancellationToken).ConfigureAwait(false);
        File.Move(temp, _paths.Config, overwrite: true);
        return true;
    }

    private async Task<Outcome> RegisterAttachedAsync(string service, CancellationToken cancellationToken)
    {
        var state = Get(service);
        if (state?.Attachment is not { } attachment) return Outcome.Fail(NotReconciled(service));
        if (state.Registered) return Outcome.Ok;
        var stats = await _api.ShowServerStatsAsync(attachment.Backend, cancellationToken).ConfigureAwait(false);
        if (!stats.Succeeded) return Outcome.Fail($"cannot route {service} through HAProxy backend {attachment.Backend}: {stats.Error}");
        var names = stats.Value!.Where(r => r.Type == StatType.Server).Select(r => r.Name).ToList();
        var primary = Select(names, attachment.PrimaryServers);
        var canary = Select(names, attachment.CanaryServers);
        List<string> errors = [];
        if (primary.Length == 0) errors.Add($"no server of backend {attachment.Backend} matches the primary's ({string.Join(", ", attachment.PrimaryServers)})");
        if (canary.Length == 0) errors.Add($"no server of backend {attachment.Backend} matches the canary's ({string.Join(", ", attachment.CanaryServers)})");
        if (primary.Intersect(canary).FirstOrDefault() is { } both) errors.Add($"server {both} is both a primary and a canary server");
        if (errors.Count > 0) return Outcome.Fail($"cannot route {service} through HAProxy: {string.Join("; ", errors)}");
        lock (_state)
        {
            state.PrimarySlots = primary;
            state.CanarySlots = canary;
            state.Registered = true;
            state.Dirty = true;
        }
        HAProxyLog.ServiceAdded(_logger, service, attachment.Backend, $"attached at {_api.SocketPath}, primary {string.Join(",", primary)}, canary {string.Join(",", canary)}");
        return Outcome.Ok;

        static string[] Select(List<string> names, IReadOnlyList<string> patterns) => names
            .Where(n => patterns.Any(p => p.EndsWith('*') ? n.StartsWith(p[..^1], StringComparison.Ordinal) : n == p)).ToArray();
    }

    // ---------------------------------------------------------------------------------------------------- applying

    /// <summary>
    /// Observe once, then converge HAProxy's slots of one service to the intent: assign endpoints to slots, compute
    /// weights, and send only the commands that change something, capacity first (new slots ready and weights raised),
    /// then weights lowered, then slots drained and freed — so that there is always a server with a weight.
    /// Caller holds <see cref="_apply"/>.
    /// </summary>
    private async Task<Outcome> ApplyAsync(ServiceState state, CancellationToken cancellationToken)
    {
        RouteWeights weights;
        IReadOnlyList<BackendEndpoint>? primaryEndpoints, canaryEndpoints;
        lock (_state)
        {
            if (!state.Registered) return Outcome.Ok;
            state.Dirty = false;
            weights = state.Weights ?? RouteWeights.AllPrimary;
            primaryEndpoints = state.PrimaryEndpoints;
            canaryEndpoints = state.CanaryEndpoints;
        }
        var backend = state.Backend!;
        var stats = await _api.ShowServerStatsAsync(backend, cancellationToken).ConfigureAwait(false);
        if (!stats.Succeeded) return Failed(stats.Error!);
        var rows = stats.Value!.Where(r => r.Type == StatType.Server).ToDictionary(r => r.Name, StringComparer.Ordinal);

        var plan = new List<SlotPlan>();
        var primaryReady = PlanRole(state, BackendRole.Primary, state.PrimarySlots, primaryEndpoints, rows, plan);
        var canaryReady = PlanRole(state, BackendRole.Canary, state.CanarySlots, canaryEndpoints, rows, plan);
        var (primaryWeights, canaryWeights) = WeightSplit.Compute(weights, primaryReady.Count, canaryReady.Count);
        var weightOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < primaryReady.Count; i++) weightOf[primaryReady[i]] = primaryWeights[i];
        for (var i = 0; i < canaryReady.Count; i++) weightOf[canaryReady[i]] = canaryWeights[i];

        // 1. Capacity first: new slots get their address and weight, then become ready; raised weights.
        foreach (var p in plan.Where(p => p.Target == SlotTarget.Ready))
        {
            var row = rows[p.Slot];
            var weight = weightOf[p.Slot];
            if (p.Endpoint is { } endpoint && row.Address != AddressText(endpoint))
            {
                var set = await _api.SetServerAddressAsync(backend, p.Slot, IpOf(endpoint.Address)!, endpoint.Address.Port, cancellationToken).ConfigureAwait(false);
                if (!set.Succeeded) return Failed(set.Error!);
            }
            if (row.Status != ServerStatus.Up || row.UserWeight < weight)
            {
                var set = await _api.SetServerWeightAsync(backend, p.Slot, weight, cancellationToken).ConfigureAwait(false);
                if (!set.Succeeded) return Failed(set.Error!);
            }
            if (p.Endpoint is not null && row.Status is ServerStatus.Maint or ServerStatus.Drain)
            {
                var set = await _api.SetServerStateAsync(backend, p.Slot, ServerAdminState.Ready, cancellationToken).ConfigureAwait(false);
                if (!set.Succeeded) return Failed(set.Error!);
            }
        }
        // 2. Lowered weights.
        foreach (var p in plan.Where(p => p.Target == SlotTarget.Ready && rows[p.Slot].Status == ServerStatus.Up && rows[p.Slot].UserWeight > weightOf[p.Slot]))
        {
            var set = await _api.SetServerWeightAsync(backend, p.Slot, weightOf[p.Slot], cancellationToken).ConfigureAwait(false);
            if (!set.Succeeded) return Failed(set.Error!);
        }
        // 3. Removed endpoints stop taking requests; 4. free slots go to maintenance.
        foreach (var (target, admin, status) in new[] { (SlotTarget.Drain, ServerAdminState.Drain, ServerStatus.Drain), (SlotTarget.Maint, ServerAdminState.Maint, ServerStatus.Maint) })
        {
            foreach (var p in plan.Where(p => p.Target == target && rows[p.Slot].Status != status))
            {
                var set = await _api.SetServerStateAsync(backend, p.Slot, admin, cancellationToken).ConfigureAwait(false);
                if (!set.Succeeded) return Failed(set.Error!);
            }
        }

        var changed = plan.Any(p => p.Target == SlotTarget.Ready && rows[p.Slot].UserWeight != weightOf[p.Slot]);
        if (changed)
            HAProxyLog.WeightsApplied(_logger, state.Service, weights.ToString(), string.Join(",", primaryWeights), string.Join(",", canaryWeights));
        return Outcome.Ok;

        Outcome Failed(string error)
        {
            MarkDirty(state);
            HAProxyLog.ApplyFailed(_logger, state.Service, error);
            return Outcome.Fail($"cannot route {state.Service} through HAProxy: {error}");
        }
    }

    /// <summary>
    /// Plans the slots of one role and returns the ready ones, in slot order. With published endpoints, they are kept
    /// on their slots, new ones take a slot already pointing at them or a free one, removed ones drain, and drained
    /// slots (HAProxy reports them draining with no session) are freed. Without, HAProxy's up servers are the ready ones.
    /// </summary>
    private List<string> PlanRole(ServiceState state, BackendRole role, string[] slots, IReadOnlyList<BackendEndpoint>? endpoints,
        Dictionary<string, StatRow> rows, List<SlotPlan> plan)
    {
        var present = slots.Where(rows.ContainsKey).ToList();
        if (endpoints is null)
        {
            var up = present.Where(s => rows[s].Status == ServerStatus.Up).ToList();
            plan.AddRange(up.Select(s => new SlotPlan(s, SlotTarget.Ready, null)));
            return up;
        }
        lock (_state)
        {
            var assignments = state.Assignments;
            var wanted = endpoints.ToDictionary(e => e.Id, StringComparer.Ordinal);
            foreach (var slot in present)
            {
                if (!assignments.TryGetValue(slot, out var a)) continue;
                if (wanted.TryGetValue(a.Endpoint.Id, out var e) && e == a.Endpoint)
                {
                    if (a.Draining) assignments[slot] = a with { Draining = false };
                }
                else if (!a.Draining) assignments[slot] = a with { Draining = true };
                else if (rows[slot].Status is ServerStatus.Drain or ServerStatus.Maint && rows[slot].CurrentSessions + rows[slot].CurrentQueue == 0)
                    assignments.Remove(slot);
            }
            foreach (var endpoint in endpoints)
            {
                if (present.Any(s => assignments.TryGetValue(s, out var a) && !a.Draining && a.Endpoint == endpoint)) continue;
                // A slot already pointing at it (a reload, or an earlier run in attach mode), else the first free one.
                var slot = present.FirstOrDefault(s => !assignments.ContainsKey(s) && rows[s].Status == ServerStatus.Up && rows[s].Address == AddressText(endpoint))
                    ?? present.FirstOrDefault(s => !assignments.ContainsKey(s));
                if (slot is null)
                {
                    HAProxyLog.NoFreeSlot(_logger, state.Service, role.ToString(), endpoint.Id, present.Count);
                    continue;
                }
                assignments[slot] = new Assignment(endpoint, false);
            }
            List<string> ready = [];
            foreach (var slot in present)
            {
                if (!assignments.TryGetValue(slot, out var a)) plan.Add(new SlotPlan(slot, SlotTarget.Maint, null));
                else if (a.Draining) plan.Add(new SlotPlan(slot, SlotTarget.Drain, a.Endpoint));
                else
                {
                    plan.Add(new SlotPlan(slot, SlotTarget.Ready, a.Endpoint));
                    ready.Add(slot);
                }
            }
            return ready;
        }
    }

    /// <summary>Reads the role shares from HAProxy (see <see cref="GetRoutesAsync"/>); Derived is false when they
    /// could not be read from the servers and the intent was returned. When <paramref name="adopting"/> (the first
    /// reconcile, before this router assigned any slot), every up server of a role counts.</summary>
    private async Task<Outcome<(RouteWeights Weights, bool Derived)>> ObserveRoutesAsync(ServiceState state, CancellationToken cancellationToken,
        bool adopting = false)
    {
        var stats = await _api.ShowServerStatsAsync(state.Backend!, cancellationToken).ConfigureAwait(false);
        if (!stats.Succeeded) return Outcome<(RouteWeights, bool)>.Fail($"cannot read the routes of {state.Service} from HAProxy: {stats.Error}");
        var rows = stats.Value!.Where(r => r.Type == StatType.Server).ToDictionary(r => r.Name, StringComparer.Ordinal);
        RouteWeights? intent;
        long primary, canary;
        int primaryReady, canaryReady;
        lock (_state)
        {
            intent = state.Weights;
            (primaryReady, primary) = Sum(state.PrimarySlots, !adopting && state.PrimaryEndpoints is not null);
            (canaryReady, canary) = Sum(state.CanarySlots, !adopting && state.CanaryEndpoints is not null);
        }
        if (primaryReady > 0 && canaryReady > 0 && WeightSplit.Shares(primary, canary) is { } shares)
            return Outcome<(RouteWeights, bool)>.Ok((shares, true));
        return Outcome<(RouteWeights, bool)>.Ok((intent ?? WeightSplit.Shares(primary, canary) ?? RouteWeights.AllPrimary, false));

        (int Ready, long Sum) Sum(string[] slots, bool managed)
        {
            var ready = slots.Where(s => rows.TryGetValue(s, out var r) && r.Status == ServerStatus.Up
                && (!managed || state.Assignments.TryGetValue(s, out var a) && !a.Draining)).ToList();
            return (ready.Count, ready.Sum(s => (long)(rows[s].UserWeight ?? 0)));
        }
    }

    private async Task ApplyLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _wake.Reader.ReadAsync(stop).ConfigureAwait(false);
                var failed = false;
                List<ServiceState> dirty;
                lock (_state) dirty = _services.Values.Where(s => s.Dirty && s.Registered).ToList();
                foreach (var state in dirty)
                    failed |= !(await FlushAsync(state.Service, stop).ConfigureAwait(false)).Succeeded;
                if (failed)
                {
                    await Task.Delay(_options.RetryInterval, _time, stop).ConfigureAwait(false);
                    _wake.Writer.TryWrite(true);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                HAProxyLog.ApplierError(_logger, e);
            }
        }
    }

    /// <summary>A restarted HAProxy starts with every slot free: apply everything again.</summary>
    private async Task ApplyAfterRestartAsync(CancellationToken cancellationToken)
    {
        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<ServiceState> all;
            lock (_state)
            {
                all = _services.Values.Where(s => s.Registered).ToList();
                foreach (var s in all) s.Dirty = true;
            }
            foreach (var state in all) await ApplyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _apply.Release();
        }
    }

    private void MarkDirty(ServiceState state)
    {
        lock (_state) state.Dirty = true;
        _wake.Writer.TryWrite(true);
    }

    private ServiceState? Get(string service)
    {
        lock (_state) return _services.GetValueOrDefault(service);
    }

    private ServiceState GetOrAdd(string service)
    {
        lock (_state)
        {
            if (!_services.TryGetValue(service, out var state)) _services[service] = state = new ServiceState(service);
            return state;
        }
    }

    private static IPAddress? IpOf(Uri address) =>
        address.IsLoopback && address.HostNameType == UriHostNameType.Dns ? IPAddress.Loopback
        : IPAddress.TryParse(address.DnsSafeHost, out var ip) ? ip : null;

    /// <summary>How <c>show stat</c> writes a server's address.</summary>
    private static string AddressText(BackendEndpoint endpoint)
    {
        var ip = IpOf(endpoint.Address)!;
        var port = endpoint.Address.Port.ToString(CultureInfo.InvariantCulture);
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]:{port}" : $"{ip}:{port}";
    }

    private static bool IsName(string name) => name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    /// <summary>Stops applying; in generate mode stops HAProxy (gracefully, then killed after the stop timeout).</summary>
    public async ValueTask DisposeAsync()
    {
        await _apply.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
        }
        finally
        {
            _apply.Release();
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _applier.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_process is not null) await _process.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private enum SlotTarget
    {
        Ready,
        Drain,
        Maint,
    }

    private sealed record SlotPlan(string Slot, SlotTarget Target, BackendEndpoint? Endpoint);

    private sealed record Assignment(BackendEndpoint Endpoint, bool Draining);

    /// <summary>One service: what Aviary wants (weights, endpoints) and which slot serves which endpoint. Guarded by
    /// <see cref="_state"/>; assignments change only while <see cref="_apply"/> is held.</summary>
    private sealed class ServiceState(string service)
    {
        public string Service { get; } = service;
        public string? Backend { get; set; }
        public HAProxyAttachment? Attachment { get; init; }
        public int? Port { get; set; }
        public bool Registered { get; set; }
        public bool Dirty { get; set; }
        public RouteWeights? Weights { get; set; }
        public IReadOnlyList<BackendEndpoint>? PrimaryEndpoints { get; private set; }
        public IReadOnlyList<BackendEndpoint>? CanaryEndpoints { get; private set; }
        public string[] PrimarySlots { get; set; } = [];
        public string[] CanarySlots { get; set; } = [];
        public Dictionary<string, Assignment> Assignments { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<BackendEndpoint>? EndpointsOf(BackendRole role) => role == BackendRole.Canary ? CanaryEndpoints : PrimaryEndpoints;

        public void SetEndpoints(BackendRole role, IReadOnlyList<BackendEndpoint> endpoints)
        {
            if (role == BackendRole.Canary) CanaryEndpoints = endpoints;
            else PrimaryEndpoints = endpoints;
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Observability;
using Aviary.Core.Policy;
using Aviary.Core.Scheduling;
using Aviary.Local.Store;
using Aviary.Local.Workloads;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Controller;

/// <summary>
/// The local controller, the embedded runtime's supervisor: reads the manifests, runs one <see cref="CanaryLoop"/> per
/// Canary (through its <see cref="CanaryRunner"/>) with the services <see cref="LocalRuntime"/> composes, keeps state
/// in SQLite, and serves its API on loopback. Killed at any moment, it resumes: the status is written once per tick,
/// router weights before they apply, and instances left running are adopted.
/// </summary>
public sealed partial class LocalController : IAsyncDisposable
{
    private readonly LocalControllerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, CanaryRunner> _runners = new(StringComparer.Ordinal);
    private readonly LocalRuntime _runtime;
    private readonly ControllerLock _lock;
    private ManifestSource? _manifests;
    private ControllerApi? _api;
    private string _reported = "";
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly object _syncGate = new();
    private Task? _watch;

    public LocalController(LocalControllerOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        _options = options;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("Aviary.Local.Controller");
        _lock = new ControllerLock(Path.Combine(options.StateDir, "controller.lock"));
        StateDir = Path.GetFullPath(options.StateDir);
        Store = StateStore.Open(Path.Combine(StateDir, "state.db"));
        _runtime = new LocalRuntime(options, StateDir, Store, () => Manifests, time, loggers);
        Metrics = new CanaryMetrics(Version, Providers.Builtin, time);
        Ticked += u => Metrics.Record(u.Policy, u.Outcome,
            CanaryPhase.IsActive(u.Outcome.Status.Phase) ? Store.LastEventTime(u.Policy.Id, "New revision detected!") : null);
    }

    /// <summary>Secrets of AlertProviders and MetricTemplates: environment variables, then files.</summary>
    public ISecretSource Secrets => _runtime.Secrets;

    /// <summary>Aviary's version, as reported by <c>flagger_info</c>.</summary>
    public static string Version { get; } =
        typeof(LocalController).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Flagger-compatible canary metrics, served at the API's <c>/metrics</c>.</summary>
    public CanaryMetrics Metrics { get; }

    public string StateDir { get; }

    public StateStore Store { get; }

    /// <summary>The built-in router.</summary>
    public ProxyServer Router => _runtime.Router;

    /// <summary>The API's base address, once started.</summary>
    public Uri? ApiUrl => _api?.Url;

    /// <summary>The dashboard's address, once started (null when it is off).</summary>
    public Uri? DashboardUrl => _api is null || _options.Dashboard is null ? null : new Uri(_api.Url, "/ui/");

    /// <summary>Raised after every tick of every canary.</summary>
    public event Action<CanaryUpdate>? Ticked;

    /// <summary>Raised when the manifests have problems (invalid documents, missing workloads).</summary>
    public event Action<string>? Problem;

    public ManifestSnapshot Manifests => _manifests?.Current ?? ManifestSnapshot.Empty;

    /// <summary>Starts the API and the canary loops; returns once they run.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(StateDir);
        if (_lock.TryAcquire() is { } holder)
            throw new ControllerException($"another controller is running with state {StateDir} ({holder})");
        var token = ApiToken.LoadOrCreate(Path.Combine(StateDir, "token"));
        _manifests = new ManifestSource(_options.Paths, Path.Combine(StateDir, "applied"));
        _api = new ControllerApi(this, token, _options.Dashboard, _time, _loggers);
        await _api.StartAsync(_options.ApiAddress, cancellationToken);
        var info = JsonSerializer.Serialize(new ControllerInfo(Environment.ProcessId, _api.Url.ToString()));
        AtomicFile.Write(Path.Combine(StateDir, "controller.json"), info);
        Sync();
        _watch = Task.Run(() => WatchAsync(_stopWatching.Token), CancellationToken.None);
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled, then stops everything it started.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        await StopAsync();
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.PollInterval, _time, cancellationToken);
                Sync();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogProblem(_logger, $"cannot read the manifests: {e.Message}");
            }
        }
    }

    /// <summary>Reads the manifests again and starts, updates or stops canary loops to match.</summary>
    public void Sync()
    {
        lock (_syncGate) SyncLocked();
    }

    private void SyncLocked()
    {
        if (_manifests is null || !_manifests.Refresh()) return;
        var snapshot = _manifests.Current;
        ReportProblems(snapshot);
        foreach (var (key, policy) in snapshot.Canaries)
        {
            if (_runners.TryGetValue(key, out var runner))
            {
                runner.Policy = policy;
                continue;
            }
            if (LocalRuntime.Unsupported(policy) is { } reason)
            {
                Problem?.Invoke($"{key}: {reason}");
                continue;
            }
            runner = CreateRunner(policy);
            _runners[key] = runner;
            runner.Start();
        }
        foreach (var key in _runners.Keys.Where(k => !snapshot.Canaries.ContainsKey(k)).ToList())
            _ = RemoveAsync(key);
    }

    /// <summary>The controller's clock.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Queues a manual action for a canary (recorded as an event with who asked) and runs its tick now.</summary>
    public void Request(string key, Aviary.Core.Scheduling.ManualAction action)
    {
        Store.QueueAction(key, action);
        Poke(key);
    }

    /// <summary>Runs a canary's next tick now.</summary>
    public bool Poke(string key)
    {
        if (!_runners.TryGetValue(key, out var runner)) return false;
        runner.Poke();
        return true;
    }

    internal IEnumerable<CanaryPolicy> Running => _runners.Values.Select(r => r.Policy);

    /// <summary>The workload of a running canary (its primary and canary instances), or null.</summary>
    public LocalWorkload? WorkloadOf(string key) => _runners.TryGetValue(key, out var r) ? r.Workload : null;

    internal ManifestSource? Source => _manifests;

    private CanaryRunner CreateRunner(CanaryPolicy policy) =>
        new(policy, _runtime.Create(policy), Store, _time, _loggers.CreateLogger("Aviary.Canary"), u => Ticked?.Invoke(u));

    private async Task RemoveAsync(string key)
    {
        if (!_runners.TryRemove(key, out var runner)) return;
        LogRemoved(_logger, key);
        await runner.StopAsync(stopInstances: true);
        await Router.StopListeningAsync(key, CancellationToken.None);
        await runner.DisposeAsync();
        await _runtime.ReleaseAsync(key);
        Store.DeleteCanary(key);
        Metrics.Remove(key);
    }

    private void ReportProblems(ManifestSnapshot snapshot)
    {
        var lines = snapshot.Invalid.SelectMany(i => i.Errors.Select(e => $"{i.File}: {i.Label}: {e}")).ToList();
        foreach (var (key, policy) in snapshot.Canaries)
        {
            if (policy.TargetKind == Core.Model.Workload.KindName &&
                !snapshot.Workloads.ContainsKey(ManifestSnapshot.Key(policy.TargetName, policy.Namespace)))
                lines.Add($"{key}: workload {policy.TargetId} is not declared");
        }
        var text = string.Join("\n", lines);
        if (text == _reported) return;
        _reported = text;
        foreach (var line in lines)
        {
            LogProblem(_logger, line);
            Problem?.Invoke(line);
        }
    }

    /// <summary>Stops the canary loops, every instance, the router and the API.</summary>
    public async Task StopAsync()
    {
        await _stopWatching.CancelAsync();
        if (_watch is not null) await _watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_runners.Values.Select(r => r.StopAsync(stopInstances: true)));
        foreach (var runner in _runners.Values) await runner.DisposeAsync();
        _runners.Clear();
        if (_api is not null) await _api.DisposeAsync();
        _api = null;
        await _runtime.StopRoutersAsync();
        File.Delete(Path.Combine(StateDir, "controller.json"));
        _lock.Release();
    }

    public async ValueTask DisposeAsync()
    {
        if (_api is not null) await StopAsync();
        await _runtime.DisposeAsync();
        _lock.Release();
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "{Problem}")]
    private static partial void LogProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "{Canary} was removed from the manifests; stopping it")]
    private static partial void LogRemoved(ILogger logger, string canary);
}

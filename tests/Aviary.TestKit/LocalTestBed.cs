using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Aviary.Core.Model;
using Aviary.Local.Controller;
using Aviary.Local.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.TestKit;

/// <summary>
/// A folder with a Workload (the demo service, run for real) and a Canary for it, a controller over them, and a
/// load client that records every request through the router.
/// </summary>
public sealed class LocalTestBed : IAsyncDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "aviary-local-" + Guid.NewGuid().ToString("N")[..8]);
    public string Manifests => Path.Combine(Dir, "manifests");
    public string State => Path.Combine(Dir, "state");
    public int Port { get; } = FreePort();
    public LocalController? Controller { get; private set; }
    public Load? Traffic { get; private set; }

    public static string DemoDll => Path.Combine(AppContext.BaseDirectory, "Aviary.Demo.dll");

    /// <summary>
    /// A new bed set up by <paramref name="setup"/>; when the setup fails, the bed (controller, processes, load) is
    /// disposed before the exception leaves, since no caller holds it yet.
    /// </summary>
    public static async Task<LocalTestBed> CreateAsync(Func<LocalTestBed, Task> setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var bed = new LocalTestBed();
        try
        {
            await setup(bed);
            return bed;
        }
        catch
        {
            await bed.DisposeAsync();
            throw;
        }
    }

    public LocalTestBed()
    {
        Directory.CreateDirectory(Manifests);
    }

    /// <summary>A free loopback port (see <see cref="FreePorts"/>).</summary>
    public static int FreePort() => FreePorts.Next();

    /// <summary>Writes the Workload with the demo's flags (e.g. <c>--version 2.0.0 --error-rate 0.2</c>).</summary>
    public void WriteWorkload(string demoFlags, int replicas = 1, string? command = null)
    {
        var args = string.Join(", ", new[] { DemoDll, "--port", "{port}" }.Concat(Split(demoFlags)).Select(a => $"\"{a}\""));
        File.WriteAllText(Path.Combine(Manifests, "workload.yaml"), $"""
            apiVersion: aviary.dev/v1alpha1
            kind: Workload
            metadata:
              name: podinfo
              namespace: test
            spec:
              replicas: {replicas}
              template:
                command: {command ?? "dotnet"}
                args: [{args}]
                readinessProbe:
                  httpGet:
                    path: /readyz
                  periodSeconds: 1
                terminationGracePeriodSeconds: 5
            """);
    }

    /// <summary>Writes the Canary with the given analysis (flush-left YAML) on <see cref="Port"/>.</summary>
    public void WriteCanary(string analysis, string extraSpec = "")
    {
        var body = string.Concat(analysis.Split('\n').Where(l => l.Trim().Length > 0).Select(l => "    " + l.TrimEnd('\r') + "\n"));
        var extra = string.Concat(extraSpec.Split('\n').Where(l => l.Trim().Length > 0).Select(l => "  " + l.TrimEnd('\r') + "\n"));
        File.WriteAllText(Path.Combine(Manifests, "canary.yaml"), $"""
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata:
              name: podinfo
              namespace: test
            spec:
              targetRef:
                apiVersion: aviary.dev/v1alpha1
                kind: Workload
                name: podinfo
              service:
                port: {Port}

            """ + extra + "  analysis:\n" + body);
    }

    public const string FastAnalysis = """
        interval: 1s
        threshold: 3
        stepWeight: 25
        maxWeight: 50
        metrics:
          - name: request-success-rate
            thresholdRange: {min: 99}
            interval: 3s
          - name: request-duration
            thresholdRange: {max: 1500}
            interval: 3s
        """;

    /// <summary>The controller API's port (its /metrics is what Prometheus scrapes in tests).</summary>
    public int ApiPort { get; } = FreePort();

    /// <summary>Port of the generated HAProxy's Prometheus exporter (for <c>provider: haproxy</c> canaries).</summary>
    public int HAProxyMetricsPort { get; } = FreePort();

    /// <param name="configure">Changes to the test defaults (e.g. the dashboard's options).</param>
    public async Task StartControllerAsync(ILoggerFactory? loggers = null, Func<LocalControllerOptions, LocalControllerOptions>? configure = null)
    {
        var options = new LocalControllerOptions
        {
            HAProxyMetricsPort = HAProxyMetricsPort,
            Paths = [Manifests],
            StateDir = State,
            ApiAddress = $"127.0.0.1:{ApiPort.ToString(CultureInfo.InvariantCulture)}",
            PollInterval = TimeSpan.FromMilliseconds(200),
            DrainTimeout = TimeSpan.FromSeconds(5),
        };
        Controller = new LocalController(configure is null ? options : configure(options), TimeProvider.System, loggers ?? NullLoggerFactory.Instance);
        await Controller.StartAsync(CancellationToken.None);
    }

    /// <summary>Waits until the controller has ticked the canary <paramref name="count"/> more times: how a test shows that nothing happens.</summary>
    public Task TicksPassAsync(int count)
    {
        var metrics = (Controller ?? throw new InvalidOperationException("the controller is not running")).Metrics;
        var from = metrics.Ticks("podinfo.test");
        return Eventually.True(() => metrics.Ticks("podinfo.test") >= from + count, TimeSpan.FromMinutes(1), what: $"{count} more ticks");
    }

    public StateStore Store => Controller?.Store ?? StateStore.Open(Path.Combine(State, "state.db"));

    public CanaryStatus? Status => Store.LoadStatus("podinfo.test");

    public string Phase => Status?.Phase ?? "";

    public IEnumerable<string> Events => Store.Events("podinfo.test").Select(e => e.Message);

    /// <summary>Waits until the canary status satisfies <paramref name="condition"/>.</summary>
    public Task WaitForAsync(TimeSpan timeout, Func<CanaryStatus, bool> condition, string what) =>
        Eventually.Until(() => Status, s => s is not null && condition(s), timeout,
            _ => $"phase {Phase}; events:\n  {string.Join("\n  ", Events.TakeLast(30))}", TimeSpan.FromMilliseconds(200), what);

    public Task WaitForPhaseAsync(string phase, TimeSpan timeout) => WaitForAsync(timeout, s => s.Phase == phase, phase);

    public void StartLoad(int concurrency = 4) => Traffic = new Load(new Uri($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/"), concurrency);

    public async ValueTask DisposeAsync()
    {
        if (Traffic is not null) await Traffic.DisposeAsync();
        if (Controller is not null) await Controller.DisposeAsync();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static IEnumerable<string> Split(string flags) => flags.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Steady traffic through the router; every answer is recorded with when it completed (<c>Time</c>), its status (0: no
    /// answer), error, body, and when its request was sent (<c>Sent</c>: a continuation that ran late moves <c>Time</c>,
    /// never <c>Sent</c>).
    /// </summary>
    public sealed class Load : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _workers;
        private readonly HttpClient _client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(10) }) { Timeout = TimeSpan.FromSeconds(10) };

        public ConcurrentQueue<(DateTimeOffset Time, int Status, string? Error, string? Body, DateTimeOffset Sent)> Results { get; } = new();

        public Load(Uri url, int concurrency)
        {
            _workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var sent = TimeProvider.System.GetUtcNow();
                    try
                    {
                        using var response = await _client.GetAsync(url, _stop.Token);
                        var body = await response.Content.ReadAsStringAsync(_stop.Token);
                        Results.Enqueue((TimeProvider.System.GetUtcNow(), (int)response.StatusCode, null, body, sent));
                    }
                    catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        Results.Enqueue((TimeProvider.System.GetUtcNow(), 0, e.Message, null, sent));
                        await Task.Delay(20);
                    }
                    await Task.Delay(10);
                }
            })).ToArray();
        }

        public int Count => Results.Count;

        public List<(DateTimeOffset Time, int Status, string? Error, string? Body, DateTimeOffset Sent)> Failures(DateTimeOffset? from = null, DateTimeOffset? to = null) =>
            Results.Where(r => (r.Status == 0 || r.Status >= 500) && (from is null || r.Time >= from) && (to is null || r.Time <= to)).ToList();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _client.Dispose();
        }
    }
}

// The fleet-scale benchmark (bench/scale/run.sh): N canaries on the real kube-apiserver and etcd of the test harness,
// run by two operators in turn — this checkout's and a pinned earlier one's — and measured the same way.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;
using Aviary.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

var arguments = Args.Parse(args);
var interval = TimeSpan.FromSeconds(arguments.IntervalSeconds);
Console.WriteLine($"Starting the test harness's kube-apiserver and etcd...");
await using var server = await KubeApiServer.StartAsync(new KubeApiServerOptions());
await using var prometheus = await QueryApi.StartAsync();
Console.WriteLine($"API server {server.Url}; metrics: a local server with Prometheus' query API at {prometheus.Url}");

var results = new List<Result>();
foreach (var scenario in arguments.Scenarios)
{
    foreach (var op in arguments.Operators)
    {
        if (op.MaxCanaries is { } max && scenario.Total > max)
        {
            results.Add(new Result(scenario, op.Name) { Note = $"not run: more than {max:N0} canaries for this operator (BASELINE_MAX)" });
            continue;
        }
        Console.WriteLine($"\n== {scenario} with the {op.Name} operator");
        results.Add(await Run.ScenarioAsync(server, prometheus, scenario, op, interval, arguments));
        Console.WriteLine(results[^1].Line());
        // Written after every scenario, so that a long run interrupted keeps what it measured.
        if (arguments.Readme is { } partial) Report.WriteReadme(partial, Report.Render(results, arguments, interval, server));
    }
}

var report = Report.Render(results, arguments, interval, server);
Console.WriteLine();
Console.WriteLine(report);
if (arguments.Readme is { } readme) Report.WriteReadme(readme, report);
return 0;

internal sealed record Scenario(int Total, int Progressing)
{
    public static Scenario Parse(string text)
    {
        var parts = text.Split('/');
        var total = int.Parse(parts[0], CultureInfo.InvariantCulture);
        return new Scenario(total, parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : total);
    }

    public override string ToString() => Progressing == Total ? $"N = {Total:N0}, all progressing" : $"N = {Total:N0}, {Progressing:N0} progressing";
}

internal sealed record Operator(string Name, string Dll, string[] ExtraArgs, int? MaxCanaries);

internal sealed record Args(IReadOnlyList<Scenario> Scenarios, IReadOnlyList<Operator> Operators, int IntervalSeconds, string? Readme,
    string BaselineCommit, double TimeoutFactor)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var scenarios = (Get("--scenarios") ?? "100").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Scenario.Parse).ToList();
        var operators = new List<Operator>();
        if (Get("--baseline") is { } baseline)
            operators.Add(new Operator("baseline", baseline, [], Get("--baseline-max") is { } m ? int.Parse(m, CultureInfo.InvariantCulture) : null));
        var currentArgs = (Get("--current-args") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        operators.Add(new Operator("current", Get("--current") ?? throw new ArgumentException("--current is required"), currentArgs, null));
        return new Args(scenarios, operators, int.Parse(Get("--interval") ?? "10", CultureInfo.InvariantCulture), Get("--readme"),
            Get("--baseline-commit") ?? "?", double.Parse(Get("--timeout-factor") ?? "2", CultureInfo.InvariantCulture));
    }
}

internal sealed record Result(Scenario Scenario, string Operator)
{
    public string? Note { get; init; }
    public int Succeeded { get; init; }
    public double InitSeconds { get; init; }
    public double? Ratio { get; init; }
    public double[] Lag { get; init; } = [];
    public double ReadsPerTick { get; init; }
    public double WritesPerTick { get; init; }
    public double IdleRequestsPerMinute { get; init; }
    public double OperatorCores { get; init; }
    public double OperatorPeakMb { get; init; }
    public double ApiServerCores { get; init; }
    public double EtcdCores { get; init; }
    public int Ticks { get; init; }

    public string Line() => Lag.Length == 0 ? Note ?? "" : string.Create(CultureInfo.InvariantCulture,
        $"{Succeeded}/{Scenario.Progressing} Succeeded{(Note is null ? "" : " (" + Note + ")")}; ratio {Ratio:F2}; lag p50/p95/p99 {Lag[0]:F2}/{Lag[1]:F2}/{Lag[2]:F2} s; " +
        $"reads/writes per canary per tick {ReadsPerTick:F2}/{WritesPerTick:F2}; operator {OperatorCores:F2} cores, {OperatorPeakMb:F0} MB peak; " +
        $"apiserver {ApiServerCores:F2}, etcd {EtcdCores:F2} cores");
}

/// <summary>One scenario with one operator: set up, wait for initialization, roll out, measure.</summary>
internal static class Run
{
    private const string Image = "ghcr.io/stefanprodan/podinfo:6.0.0";

    public static async Task<Result> ScenarioAsync(KubeApiServer server, QueryApi prometheus, Scenario scenario, Operator op, TimeSpan interval, Args args)
    {
        var ns = await server.CreateNamespaceAsync($"scale-{op.Name}-{scenario.Total}");
        using var client = new KubeClient(KubeClientConfig.FromKubeconfig(server.AdminKubeconfig), new KubeClientOptions { Qps = 0 });
        using var stop = new CancellationTokenSource();
        var kubelet = Task.Run(() => KubeletAsync(client, ns, stop.Token));
        var canaries = new CanaryWatch(client, ns);
        var watching = Task.Run(() => canaries.RunAsync(stop.Token));

        Console.WriteLine($"creating {scenario.Total:N0} Deployments and Canaries in {ns}...");
        await Parallel.ForEachAsync(Enumerable.Range(0, scenario.Total), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var name = Name(i);
            await Must(client.Resource(KubeResources.Deployments).CreateAsync(Deployment(ns, name), ct));
            await Must(client.Resource(KubeResources.Canaries).CreateAsync(Canary(ns, name, interval), ct));
        });

        var port = FreePorts.Next();
        var log = Path.Combine(Path.GetTempPath(), $"aviary-scale-{op.Name}-{scenario.Total}.log");
        var process = StartOperator(op, server, prometheus, ns, port, log);
        var started = Stopwatch.StartNew();
        try
        {
            var initLimit = TimeSpan.FromSeconds(120 + scenario.Total * 0.2 * args.TimeoutFactor);
            if (!await canaries.WaitAsync(c => c.Count(kv => kv.Value.Phase == "Initialized") >= scenario.Total, initLimit))
                return new Result(scenario, op.Name) { Note = $"{canaries.Count("Initialized")}/{scenario.Total} canaries Initialized within {initLimit.TotalSeconds:F0} s" };
            var initSeconds = started.Elapsed.TotalSeconds;
            Console.WriteLine($"all Initialized after {initSeconds:F0} s");
            // Let the last initialization writes settle, then measure the idle fleet for a while.
            await Task.Delay(interval);
            var idleBefore = await Counters.ReadAsync(server, client, process.Id);
            var ownBefore = await OwnRequestsAsync(port);
            await Task.Delay(TimeSpan.FromSeconds(20));
            var idleAfter = await Counters.ReadAsync(server, client, process.Id);
            var ownAfter = await OwnRequestsAsync(port);
            // What the operator itself counted while the fleet was at rest (its /metrics, when it has the series).
            foreach (var (series, count) in ownAfter.Where(kv => kv.Value != ownBefore.GetValueOrDefault(kv.Key)))
                Console.WriteLine($"  at rest: {series} +{count - ownBefore.GetValueOrDefault(series)}");
            // The operator's own count where it has one (the API server's also holds its own background requests).
            var idlePerMinute = ownAfter.Count > 0
                ? ownAfter.Sum(kv => kv.Value - ownBefore.GetValueOrDefault(kv.Key)) * 3.0
                : (idleAfter.OperatorRequests - idleBefore.OperatorRequests) * 3.0;

            var before = await Counters.ReadAsync(server, client, process.Id);
            var rollout = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, scenario.Progressing), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
                await Must(client.Resource(KubeResources.Deployments).PatchAsync(ns, Name(i), KubePatch.StrategicMerge(JsonNode.Parse(
                    """{"spec":{"template":{"spec":{"containers":[{"name":"podinfod","image":"ghcr.io/stefanprodan/podinfo:6.0.1"}]}}}}""")!), ct)));
            var ideal = interval * 9;
            var limit = TimeSpan.FromSeconds(ideal.TotalSeconds * args.TimeoutFactor);
            await canaries.WaitAsync(c => Enumerable.Range(0, scenario.Progressing).All(i => c.TryGetValue(Name(i), out var s) && s.Phase == "Succeeded" && s.Changes > 0), limit);
            var after = await Counters.ReadAsync(server, client, process.Id);
            var window = rollout.Elapsed.TotalSeconds;

            var done = Enumerable.Range(0, scenario.Progressing).Select(i => canaries.Get(Name(i))).OfType<CanaryTrace>().Where(s => s is { Phase: "Succeeded", Changes: > 1 }).ToList();
            var progressing = Enumerable.Range(0, scenario.Progressing).Select(i => canaries.Get(Name(i))).OfType<CanaryTrace>().ToList();
            var ticks = progressing.Count == 0 ? 0 : progressing.Max(t => t.Changes);
            var ratios = done.Select(t => (t.Last - t.First).TotalSeconds / ((t.Changes - 1) * interval.TotalSeconds)).ToList();
            var gaps = progressing.SelectMany(t => t.Gaps).Select(g => Math.Max(0, g - interval.TotalSeconds)).Order().ToArray();
            var tickCount = Math.Max(1, progressing.Sum(t => t.Changes));
            var cpu = (after.OperatorCpu - before.OperatorCpu) / window;
            return new Result(scenario, op.Name)
            {
                Succeeded = done.Count,
                InitSeconds = initSeconds,
                Ratio = ratios.Count == 0 ? null : Percentile(ratios.Order().ToArray(), 0.5),
                Lag = [Percentile(gaps, 0.5), Percentile(gaps, 0.95), Percentile(gaps, 0.99)],
                ReadsPerTick = (after.OperatorReads - before.OperatorReads) / (double)tickCount,
                WritesPerTick = (after.OperatorWrites - before.OperatorWrites) / (double)tickCount,
                IdleRequestsPerMinute = idlePerMinute,
                OperatorCores = cpu,
                OperatorPeakMb = after.OperatorPeakMb,
                ApiServerCores = (after.ApiServerCpu - before.ApiServerCpu) / window,
                EtcdCores = (after.EtcdCpu - before.EtcdCpu) / window,
                Ticks = ticks,
                Note = done.Count < scenario.Progressing ? $"only {done.Count}/{scenario.Progressing} Succeeded within {limit.TotalSeconds:F0} s" : null,
            };
        }
        finally
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            await stop.CancelAsync();
            await Task.WhenAll(kubelet, watching).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task<Dictionary<string, long>> OwnRequestsAsync(int port)
    {
        try
        {
            using var http = new HttpClient();
            var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/metrics"));
            return text.Split('\n').Where(l => l.StartsWith("aviary_kube_requests_total{", StringComparison.Ordinal) && !l.Contains("verb=\"WATCH\"", StringComparison.Ordinal))
                .ToDictionary(l => l[..l.LastIndexOf(' ')], l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }

    private static string Name(int i) => "app-" + i.ToString("D5", CultureInfo.InvariantCulture);

    private static async Task Must<T>(Task<KubeResult<T>> call)
    {
        var result = await call;
        if (!result.Succeeded && !result.IsAlreadyExists) throw new InvalidOperationException(result.ToString());
    }

    private static Process StartOperator(Operator op, KubeApiServer server, QueryApi prometheus, string ns, int port, string log)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { op.Dll, "operator", "--kubeconfig", server.AdminKubeconfig, "--namespace", ns, "--no-leader-election",
                     "--listen", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture), "--metrics-server", prometheus.Url.ToString(), "--mesh-provider", "linkerd" })
            info.ArgumentList.Add(a);
        foreach (var a in op.ExtraArgs) info.ArgumentList.Add(a);
        info.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start the operator");
        var writer = new StreamWriter(log) { AutoFlush = true };
        // Only warnings and errors are kept (the operator logs every tick at Information).
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l && !l.Contains("\"LogLevel\":\"Information\"", StringComparison.Ordinal)) lock (writer) writer.WriteLine(l); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (writer) writer.WriteLine(l); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Plays the kubelet and the Deployment controller: every Deployment whose spec changed gets the status of a finished rollout.</summary>
    private static async Task KubeletAsync(KubeClient client, string ns, CancellationToken cancellationToken)
    {
        var deployments = client.Resource(KubeResources.Deployments);
        var pending = System.Threading.Channels.Channel.CreateUnbounded<(string Name, long Generation, int Replicas)>();
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await foreach (var (name, generation, replicas) in pending.Reader.ReadAllAsync(cancellationToken))
            {
                await deployments.PatchStatusAsync(ns, name, KubePatch.Merge(new JsonObject
                {
                    ["status"] = KubeApiServer.ReadyDeploymentStatus(name, generation, replicas, TimeProvider.System.GetUtcNow()),
                }), cancellationToken);
            }
        }, cancellationToken)).ToList();
        try
        {
            // The watched object is the latest: no read is needed before writing its status.
            await foreach (var e in deployments.WatchAllAsync(ns, null, cancellationToken))
            {
                if (e.Object is not { } d || e.Type is not (WatchEventType.Added or WatchEventType.Modified)) continue;
                var generation = d["metadata"]?["generation"]?.GetValue<long>() ?? 1;
                var replicas = d["spec"]?["replicas"]?.GetValue<int>() ?? 1;
                if (d["status"]?["observedGeneration"]?.GetValue<long>() == generation && (d["status"]?["readyReplicas"]?.GetValue<int>() ?? 0) == replicas) continue;
                pending.Writer.TryWrite((KubeJson.Name(d)!, generation, replicas));
            }
        }
        catch (OperationCanceledException)
        {
        }
        pending.Writer.TryComplete();
        await Task.WhenAll(workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static JsonObject Deployment(string ns, string name) => new()
    {
        ["apiVersion"] = "apps/v1",
        ["kind"] = "Deployment",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = new JsonObject { ["app"] = name } },
        ["spec"] = new JsonObject
        {
            ["replicas"] = 1,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = name } },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = name } },
                ["spec"] = new JsonObject
                {
                    ["containers"] = new JsonArray(new JsonObject
                    {
                        ["name"] = "podinfod",
                        ["image"] = Image,
                        ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["containerPort"] = 9898 }),
                    }),
                },
            },
        },
    };

    private static JsonObject Canary(string ns, string name, TimeSpan interval) => new()
    {
        ["apiVersion"] = "flagger.app/v1beta1",
        ["kind"] = "Canary",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["provider"] = "linkerd",
            ["targetRef"] = new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = name },
            ["service"] = new JsonObject { ["port"] = 9898 },
            ["analysis"] = new JsonObject
            {
                ["interval"] = ((int)interval.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s",
                ["threshold"] = 5,
                ["stepWeight"] = 10,
                ["maxWeight"] = 50,
                ["metrics"] = new JsonArray(new JsonObject
                {
                    ["name"] = "request-success-rate",
                    ["thresholdRange"] = new JsonObject { ["min"] = 99 },
                    ["interval"] = "1m",
                }),
            },
        },
    };

    internal static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Each canary's progress as a watch sees it: when its phase or weight changed, and how often.</summary>
internal sealed record CanaryTrace(string Phase, int Weight, DateTimeOffset First, DateTimeOffset Last, int Changes, List<double> Gaps);

internal sealed class CanaryWatch(KubeClient client, string ns)
{
    private readonly ConcurrentDictionary<string, CanaryTrace> _traces = new();
    private readonly ConcurrentDictionary<string, string> _phases = new();

    public CanaryTrace? Get(string name) => _traces.TryGetValue(name, out var t) ? t : null;

    public int Count(string phase) => _phases.Values.Count(p => p == phase);

    public async Task<bool> WaitAsync(Func<IReadOnlyDictionary<string, (string Phase, int Changes)>, bool> done, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            var view = _phases.ToDictionary(kv => kv.Key, kv => (kv.Value, _traces.TryGetValue(kv.Key, out var t) ? t.Changes : 0));
            if (done(view)) return true;
            await Task.Delay(500);
        }
        return false;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in client.Resource(KubeResources.Canaries).WatchAllAsync(ns, null, cancellationToken))
            {
                if (e.Object is not { } c) continue;
                var name = KubeJson.Name(c)!;
                var phase = c["status"]?["phase"]?.GetValue<string>() ?? "";
                var weight = c["status"]?["canaryWeight"]?.GetValue<int>() ?? 0;
                var previous = _phases.GetValueOrDefault(name);
                _phases[name] = phase;
                var now = TimeProvider.System.GetUtcNow();
                // A rollout's progress: from the first Progressing on, every change of phase or weight is one tick's.
                if (_traces.TryGetValue(name, out var t))
                {
                    if (t.Phase == phase && t.Weight == weight) continue;
                    t.Gaps.Add((now - t.Last).TotalSeconds);
                    _traces[name] = t with { Phase = phase, Weight = weight, Last = now, Changes = t.Changes + 1 };
                }
                else if (phase == "Progressing" && previous != "Progressing")
                {
                    _traces[name] = new CanaryTrace(phase, weight, now, now, 1, []);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>CPU (seconds) and peak memory of the processes, and the operator's API requests (the API server's count minus the bench's own).</summary>
internal sealed record Counters(double OperatorCpu, double OperatorPeakMb, double ApiServerCpu, double EtcdCpu, long OperatorReads, long OperatorWrites)
{
    public long OperatorRequests => OperatorReads + OperatorWrites;

    public static async Task<Counters> ReadAsync(KubeApiServer server, KubeClient bench, int operatorPid)
    {
        var (reads, writes) = await ApiServerRequestsAsync(server);
        var benchReads = bench.Metrics.Reads();
        var benchWrites = bench.Metrics.Writes();
        return new Counters(Cpu(operatorPid), PeakMb(operatorPid), Cpu(server.ApiServerProcessId), Cpu(server.EtcdProcessId),
            reads - benchReads, writes - benchWrites);
    }

    private static async Task<(long Reads, long Writes)> ApiServerRequestsAsync(KubeApiServer server)
    {
        // The API server's own count (this request is a non-resource one, left out below).
        var (_, text) = await server.RequestAsync(HttpMethod.Get, "/metrics");
        return ParseMetrics(text);
    }

    internal static (long Reads, long Writes) ParseMetrics(string text)
    {
        long reads = 0, writes = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("apiserver_request_total{", StringComparison.Ordinal) || line.Contains(",resource=\"\"", StringComparison.Ordinal)) continue;
            var value = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            if (line.Contains("verb=\"GET\"", StringComparison.Ordinal) || line.Contains("verb=\"LIST\"", StringComparison.Ordinal)) reads += value;
            else if (line.Contains("verb=\"POST\"", StringComparison.Ordinal) || line.Contains("verb=\"PUT\"", StringComparison.Ordinal)
                     || line.Contains("verb=\"PATCH\"", StringComparison.Ordinal) || line.Contains("verb=\"DELETE\"", StringComparison.Ordinal)
                     || line.Contains("verb=\"APPLY\"", StringComparison.Ordinal)) writes += value;
        }
        return (reads, writes);
    }

    private static double Cpu(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static double PeakMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) ?? "VmHWM: 0 kB";
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

/// <summary>A server with Prometheus' instant-query API that answers every query with 100 (a healthy success rate).</summary>
internal sealed class QueryApi : IAsyncDisposable
{
    private readonly WebApplication _app;

    private QueryApi(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public static long Queries;

    public static async Task<QueryApi> StartAsync()
    {
        var port = FreePorts.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapGet("/api/v1/query", () =>
        {
            Interlocked.Increment(ref Queries);
            var now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
            return Results.Text("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[""" + now.ToString(CultureInfo.InvariantCulture) + ""","100"]}]}}""", "application/json");
        });
        await app.StartAsync();
        return new QueryApi(app, new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal static class Report
{
    public static string Render(List<Result> results, Args args, TimeSpan interval, KubeApiServer server)
    {
        var s = new StringBuilder();
        var date = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        s.AppendLine(CultureInfo.InvariantCulture, $"### Fleet-scale benchmark — {date}");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} CPUs; the API server, etcd, the operator and the bench share them. Real kube-apiserver 1.20 and etcd 3.4 of the test harness;");
        s.AppendLine(CultureInfo.InvariantCulture, $"Deployments get their status from the bench (as a kubelet would; no pods). Metrics: a local server with Prometheus' query API answering 100 to every query");
        s.AppendLine(CultureInfo.InvariantCulture, $"(a real Prometheus is not needed to measure the operator and would not keep up with thousands of canaries on this machine). Canaries: linkerd, interval {interval.TotalSeconds:F0} s,");
        s.AppendLine(CultureInfo.InvariantCulture, $"stepWeight 10, maxWeight 50, one request-success-rate check. \"baseline\" is the operator at commit {args.BaselineCommit} (before issue 15), \"current\" this checkout's");
        s.AppendLine(CultureInfo.InvariantCulture, $"(flags: `{string.Join(' ', args.Operators.Last().ExtraArgs)}`).");
        s.AppendLine();
        s.AppendLine("| scenario | operator | all Initialized after s | Succeeded | time-to-Succeeded ratio | tick lag p50 / p95 / p99 s | reads / writes per canary per tick | idle requests / min | operator cores | operator peak MB | apiserver cores | etcd cores |");
        s.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            if (r.Lag.Length == 0)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.Operator} | | {r.Note} | | | | | | | | |");
                continue;
            }
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Operator} | {r.InitSeconds:F0} | {r.Succeeded}/{r.Scenario.Progressing}{(r.Note is null ? "" : " (" + r.Note + ")")} | {(r.Ratio is { } ratio ? ratio.ToString("F2", CultureInfo.InvariantCulture) : "—")} | {r.Lag[0]:F2} / {r.Lag[1]:F2} / {r.Lag[2]:F2} | {r.ReadsPerTick:F2} / {r.WritesPerTick:F2} | {r.IdleRequestsPerMinute:F0} | {r.OperatorCores:F2} | {r.OperatorPeakMb:F0} | {r.ApiServerCores:F2} | {r.EtcdCores:F2} |");
        }
        if (results.Any(r => r.Note?.StartsWith("not run", StringComparison.Ordinal) == true)
            && results.FirstOrDefault(r => r.Operator == "baseline" && r.InitSeconds > 0) is { } measured)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture,
                $"The baseline is not run above BASELINE_MAX canaries: at {measured.Scenario} it initialized in {measured.InitSeconds:F0} s ({measured.InitSeconds / measured.Scenario.Total:F2} s per canary, held by its fixed client limit of 50 requests/s) and finished {measured.Succeeded} of {measured.Scenario.Progressing} rollouts in twice the schedule, so a larger fleet only takes longer to show the same stall.");
        }
        s.AppendLine();
        s.AppendLine("Ratio: per canary, the time from its first Progressing to Succeeded over (its ticks − 1) × interval, median over the canaries (1.00: on schedule).");
        s.AppendLine("Tick lag: every gap between two consecutive changes of a canary's phase or weight, minus the interval (so 0 is on time).");
        s.AppendLine("Requests: the API server's apiserver_request_total during the rollout, less the bench's own, over all progressing canaries' ticks; watches are not counted.");
        s.AppendLine("Idle requests: requests per minute while every canary was Initialized and nothing changed, by the operator's own count (aviary_kube_requests_total, watches");
        s.AppendLine("excluded) where it has that series, else the API server's count less the bench's, which also holds the API server's own background requests.");
        s.AppendLine();
        s.AppendLine("Published figures of the peers, for context: Flagger stalls at about 50–70 canaries because of its client's QPS (fluxcd/flagger#638);");
        s.AppendLine("Argo Rollouts at 10,000 rollouts used 11–14 GB and 2–3 CPUs (argoproj/argo-rollouts#2855).");
        s.AppendLine();
        s.AppendLine("Reproduce: `bench/scale/run.sh` (`SCENARIOS=100,1000,10000/1000`, `BASELINE_MAX`, `INTERVAL` override the defaults).");
        return s.ToString();
    }

    public static void WriteReadme(string path, string section)
    {
        const string start = "<!-- scale-bench:start -->", end = "<!-- scale-bench:end -->";
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        var block = start + "\n" + section.TrimEnd() + "\n" + end;
        var a = text.IndexOf(start, StringComparison.Ordinal);
        var b = text.IndexOf(end, StringComparison.Ordinal);
        text = a >= 0 && b > a ? text[..a] + block + text[(b + end.Length)..] : text.TrimEnd() + "\n\n" + block + "\n";
        File.WriteAllText(path, text);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Aviary.TestKit;

/// <summary>A target Prometheus scrapes: a job name, <c>host:port</c> and the metrics path.</summary>
public sealed record ScrapeTarget(string Job, string Address, string MetricsPath = "/metrics")
{
    /// <summary>A target from a URL such as <c>http://127.0.0.1:5000/metrics</c> (path <c>/</c> means <c>/metrics</c>).</summary>
    public static ScrapeTarget Of(string job, Uri url) =>
        new(job, url.Authority, url.AbsolutePath is "" or "/" ? "/metrics" : url.AbsolutePath);
}

/// <summary>
/// A real Prometheus (<c>/usr/bin/prometheus</c>, Debian's package, installed when missing) on 127.0.0.1 with a free
/// port, a temporary storage folder and a generated config: one scrape job per <see cref="ScrapeTarget"/>, scrape and
/// evaluation interval 1 s by default. <see cref="DisposeAsync"/> stops it and deletes its folder. Helpers query the
/// HTTP API and wait for a target to be up or a query to have data; on timeout they fail with what Prometheus said
/// (the target's last scrape error, the server's log tail).
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Program = "/usr/bin/prometheus";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly TimeSpan _scrapeInterval;

    private PrometheusServer(Process process, string dir, int port, TimeSpan scrapeInterval)
    {
        _process = process;
        Dir = dir;
        Port = port;
        _scrapeInterval = scrapeInterval;
        Url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        // A test host that exits without disposing (an aborted run) still stops its Prometheus.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>The server's base URL, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public Uri Url { get; }

    public int Port { get; }

    /// <summary>The folder holding the config, the storage and the log; deleted on dispose.</summary>
    public string Dir { get; }

    public string ConfigPath => Path.Combine(Dir, "prometheus.yml");

    public string LogPath => Path.Combine(Dir, "prometheus.log");

    /// <summary>The process id (to stop it from a test that checks what happens when Prometheus goes away).</summary>
    public int ProcessId => _process.Id;

    /// <summary>What Prometheus has written so far (for assertion messages).</summary>
    public string Log => File.Exists(LogPath) ? ReadShared(LogPath) : "";

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> every second.</summary>
    public static Task<PrometheusServer> StartAsync(params ScrapeTarget[] targets) => StartAsync(targets, TimeSpan.FromSeconds(1));

    /// <summary>Starts Prometheus and waits until it is ready (<c>/-/ready</c>).</summary>
    /// <param name="scrapeInterval">Scrape and rule evaluation interval; whole seconds or milliseconds.</param>
    /// <param name="extraScrapeConfigs">YAML appended under <c>scrape_configs:</c> (list items indented by two spaces), if any.</param>
    public static async Task<PrometheusServer> StartAsync(IReadOnlyList<ScrapeTarget> targets, TimeSpan scrapeInterval,
        string? extraScrapeConfigs = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        DebianPackages.Ensure("prometheus");
        string? lastFailure = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var dir = Path.Combine(Path.GetTempPath(), "aviary-prometheus-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(Path.Combine(dir, "data"));
            var port = LocalTestBed.FreePort();
            File.WriteAllText(Path.Combine(dir, "prometheus.yml"), Config(targets, scrapeInterval, extraScrapeConfigs));
            var process = Start(dir, port);
            var server = new PrometheusServer(process, dir, port, scrapeInterval);
            try
            {
                if (await server.WaitReadyAsync(cancellationToken)) return server;
                lastFailure = server.Log;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
            await server.DisposeAsync();
            // Another process may have taken the port between choosing and binding it: try another one.
            if (!lastFailure.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) break;
        }
        throw new InvalidOperationException($"Prometheus did not become ready; its log:\n{Tail(lastFailure ?? "", 4000)}");
    }

    /// <summary>Rewrites the scrape targets and reloads the config (<c>POST /-/reload</c>).</summary>
    public async Task ReloadAsync(IReadOnlyList<ScrapeTarget> targets, string? extraScrapeConfigs = null)
    {
        await File.WriteAllTextAsync(ConfigPath, Config(targets, _scrapeInterval, extraScrapeConfigs));
        using var response = await _http.PostAsync(new Uri("/-/reload", UriKind.Relative), null);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"Prometheus did not reload: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Runs an instant query and returns the <c>data</c> object (<c>resultType</c> and <c>result</c>); throws on an error answer.</summary>
    public async Task<JsonElement> QueryAsync(string query)
    {
        using var response = await _http.GetAsync(new Uri("/api/v1/query?query=" + Uri.EscapeDataString(query), UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (!response.IsSuccessStatusCode || root.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"Prometheus rejected '{query}': {(int)response.StatusCode} {body}");
        return root.GetProperty("data").Clone();
    }

    /// <summary>
    /// The single value of an instant query (a scalar, or a vector of one series); null when the result is empty or NaN.
    /// Throws when the query returns several series or a matrix.
    /// </summary>
    public async Task<double?> QueryValueAsync(string query)
    {
        var data = await QueryAsync(query);
        var result = data.GetProperty("result");
        JsonElement sample;
        switch (data.GetProperty("resultType").GetString())
        {
            case "scalar":
                sample = result;
                break;
            case "vector" when result.GetArrayLength() == 0:
                return null;
            case "vector" when result.GetArrayLength() == 1:
                sample = result[0].GetProperty("value");
                break;
            default:
                throw new InvalidOperationException($"'{query}' returned more than one value: {result}");
        }
        var value = ParseValue(sample[1].GetString()!);
        return double.IsNaN(value) ? null : value;
    }

    /// <summary>Waits until the query has a value (and <paramref name="condition"/> holds for it), polling every 250 ms.</summary>
    public async Task<double> WaitForValueAsync(string query, Func<double, bool>? condition = null, TimeSpan? timeout = null) =>
        (await Eventually.Until(() => QueryValueAsync(query), v => v is { } value && (condition is null || condition(value)), timeout ?? TimeSpan.FromSeconds(60),
            async last => $"{(last is null ? "no data" : "value " + last.Value.ToString(CultureInfo.InvariantCulture))}; " +
                $"targets: {await TargetsSummaryAsync()}\nPrometheus log:\n{Tail(Log, 2000)}",
            TimeSpan.FromMilliseconds(250), $"'{query}' to have a value{(condition is null ? "" : " that holds")}"))!.Value;

    /// <summary>Waits until every target of <paramref name="job"/> has been scraped successfully (<c>up == 1</c>).</summary>
    public Task WaitForTargetUpAsync(string job, TimeSpan? timeout = null) =>
        WaitForValueAsync($"min(up{{job=\"{job}\"}})", v => v == 1, timeout);

    /// <summary>Each target's job, health and last scrape error, from <c>/api/v1/targets</c>.</summary>
    public async Task<string> TargetsSummaryAsync()
    {
        try
        {
            var body = await _http.GetStringAsync(new Uri("/api/v1/targets", UriKind.Relative));
            using var document = JsonDocument.Parse(body);
            var text = new StringBuilder();
            foreach (var target in document.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray())
            {
                text.Append(target.GetProperty("scrapePool").GetString()).Append(' ')
                    .Append(target.GetProperty("scrapeUrl").GetString()).Append(' ')
                    .Append(target.GetProperty("health").GetString());
                var error = target.GetProperty("lastError").GetString();
                if (!string.IsNullOrEmpty(error)) text.Append(" (").Append(error).Append(')');
                text.Append("; ");
            }
            return text.Length == 0 ? "none" : text.ToString();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "unknown (" + e.Message + ")";
        }
    }

    /// <summary>Prometheus' sample values: decimal, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>.</summary>
    public static double ParseValue(string text) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    /// <summary>A Prometheus duration for a config or a range selector: whole seconds (<c>20s</c>) or milliseconds.</summary>
    public static string Duration(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerSecond == 0
            ? ((long)value.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    private static string Config(IReadOnlyList<ScrapeTarget> targets, TimeSpan interval, string? extra)
    {
        var text = new StringBuilder();
        text.Append("global:\n")
            .Append("  scrape_interval: ").Append(Duration(interval)).Append('\n')
            .Append("  evaluation_interval: ").Append(Duration(interval)).Append('\n')
            .Append("  scrape_timeout: ").Append(Duration(interval)).Append('\n')
            .Append("scrape_configs:\n");
        foreach (var target in targets)
        {
            text.Append("  - job_name: ").Append(Quote(target.Job)).Append('\n')
                .Append("    metrics_path: ").Append(Quote(target.MetricsPath)).Append('\n')
                .Append("    static_configs:\n")
                .Append("      - targets: [").Append(Quote(target.Address)).Append("]\n");
        }
        if (!string.IsNullOrWhiteSpace(extra)) text.Append(extra.TrimEnd()).Append('\n');
        if (targets.Count == 0 && string.IsNullOrWhiteSpace(extra)) text.Append("  []\n");
        return text.ToString();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static Process Start(string dir, int port)
    {
        // sh only redirects the output to the log file, then becomes Prometheus (exec): the process id is Prometheus'.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = dir };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>prometheus.log 2>&1");
        info.ArgumentList.Add(Program);
        info.ArgumentList.Add("--config.file=" + Path.Combine(dir, "prometheus.yml"));
        info.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(dir, "data"));
        info.ArgumentList.Add("--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add("--web.enable-lifecycle");
        return Process.Start(info) ?? throw new InvalidOperationException("cannot start " + Program);
    }

    private async Task<bool> WaitReadyAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout)
        {
            if (_process.HasExited) return false;
            try
            {
                using var response = await _http.GetAsync(new Uri("/-/ready", UriKind.Relative), cancellationToken);
                if (response.IsSuccessStatusCode) return true;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100, cancellationToken);
        }
        return false;
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string Tail(string text, int characters) => text.Length <= characters ? text : "…" + text[^characters..];

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15), TimeProvider.System);
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or not stopping: nothing more to do from a test.
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file still held open; the temp folder is cleaned eventually.
        }
    }
}

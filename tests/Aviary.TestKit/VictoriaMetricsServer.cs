using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Aviary.TestKit;

/// <summary>
/// A real VictoriaMetrics (<c>/usr/bin/victoria-metrics</c>, Debian's package, installed when missing) on 127.0.0.1 with
/// a free port and a temporary storage folder: a second server behind the Prometheus query API, so that tests show the
/// PromQL path is not tied to Prometheus. Samples are written with <see cref="ImportAsync"/> (its Prometheus text import,
/// with timestamps), which returns once they can be queried. <see cref="DisposeAsync"/> stops it and deletes its folder.
/// </summary>
public sealed class VictoriaMetricsServer : IAsyncDisposable
{
    public const string Program = "/usr/bin/victoria-metrics";

    private readonly Process _process;
    private readonly HttpClient _http;

    private VictoriaMetricsServer(Process process, string dir, int port)
    {
        _process = process;
        Dir = dir;
        Url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    /// <summary>The server's base URL (the Prometheus API is under <c>/api/v1</c>).</summary>
    public Uri Url { get; }

    /// <summary>The folder of the storage and the log; deleted on dispose.</summary>
    public string Dir { get; }

    public string LogPath => Path.Combine(Dir, "victoria-metrics.log");

    public static async Task<VictoriaMetricsServer> StartAsync()
    {
        DebianPackages.Ensure("victoria-metrics");
        var dir = Directory.CreateTempSubdirectory("aviary-vm-").FullName;
        var port = LocalTestBed.FreePort();
        var info = new ProcessStartInfo(Program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        foreach (var a in new[]
                 {
                     $"-httpListenAddr=127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", $"-storageDataPath={Path.Combine(dir, "data")}",
                     "-retentionPeriod=1d", "-search.latencyOffset=0s", "-loggerOutput=stderr",
                 })
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var log = new StreamWriter(Path.Combine(dir, "victoria-metrics.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new VictoriaMetricsServer(process, dir, port);
        try
        {
            await Eventually.True(async () => process.HasExited ? throw new Xunit.Sdk.XunitException($"victoria-metrics exited: {server.Log}")
                    : (await server._http.GetStringAsync("/health")).Trim() == "OK",
                TimeSpan.FromMinutes(1), () => Task.FromResult(server.Log), what: "victoria-metrics answering /health");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>What the server has logged so far.</summary>
    public string Log
    {
        get
        {
            try
            {
                using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                return new StreamReader(stream).ReadToEnd();
            }
            catch (IOException)
            {
                return "";
            }
        }
    }

    /// <summary>
    /// Writes samples in Prometheus text format with millisecond timestamps (<c>name{labels} value timestamp</c>, one per
    /// line), then flushes and waits until <paramref name="visible"/> (a series selector) has as many samples as were written for it.
    /// </summary>
    public async Task ImportAsync(IEnumerable<string> lines, string visible)
    {
        var text = string.Join("\n", lines) + "\n";
        using (var content = new StringContent(text, Encoding.UTF8, "text/plain"))
        using (var response = await _http.PostAsync("/api/v1/import/prometheus", content))
            Assert.True(response.IsSuccessStatusCode, $"import: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await Eventually.True(async () =>
        {
            (await _http.GetAsync("/internal/force_flush")).Dispose();
            var answer = await _http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString($"count_over_time({visible}[1d])"));
            return answer.Contains("\"value\":", StringComparison.Ordinal);
        }, TimeSpan.FromMinutes(1), () => Task.FromResult(Log), what: $"imported samples of {visible} queryable");
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

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held: the temp folder is cleaned by the system.
        }
    }
}

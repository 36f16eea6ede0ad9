using System.Diagnostics;
using System.Globalization;
using Aviary.Local.Controller;
using Aviary.Local.Store;
using Aviary.Local.Workloads;

namespace Aviary.Dashboard.Tests;

/// <summary>
/// `aviary run` as a user starts it: its own process (the CLI built beside the tests), on the manifests of a
/// <see cref="LocalTestBed"/>, with the API and dashboard on a free loopback port. Stopped with SIGTERM, as Ctrl-C would.
/// </summary>
internal sealed class AviaryRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly LocalTestBed _bed;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private AviaryRun(LocalTestBed bed, Process process)
    {
        _bed = bed;
        _process = process;
    }

    public Uri Url => new($"http://127.0.0.1:{_bed.ApiPort.ToString(CultureInfo.InvariantCulture)}/");

    public Uri Dashboard => new(Url, "/ui/");

    public string Token => ApiToken.Read(_bed.State) ?? throw new InvalidOperationException("no token yet");

    /// <summary>The last lines the controller printed, for failure messages.</summary>
    public string Output => string.Join("\n", _output.TakeLast(40));

    public static async Task<AviaryRun> StartAsync(LocalTestBed bed, params string[] flags)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "aviary.dll"), "run", "-f", bed.Manifests, "--state", bed.State,
                     "--api", $"127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}", "--output", "json" }.Concat(flags))
            info.ArgumentList.Add(a);
        var run = new AviaryRun(bed, Process.Start(info)!);
        run._process.OutputDataReceived += (_, e) => { if (e.Data is not null) run._output.Enqueue(e.Data); };
        run._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) run._output.Enqueue(e.Data); };
        run._process.BeginOutputReadLine();
        run._process.BeginErrorReadLine();
        using var http = new HttpClient();
        try
        {
            await Eventually.True(async () => !run._process.HasExited && (await http.GetAsync(new Uri(run.Url, "/healthz"))).IsSuccessStatusCode,
                describe: () => Task.FromResult(run._process.HasExited ? $"aviary run exited: {run.Output}" : run.Output), what: "aviary run's API");
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
        return run;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Processes.Signal(_process.Id, Processes.SIGTERM);
            if (!_process.WaitForExit(TimeSpan.FromMinutes(1))) _process.Kill(entireProcessTree: true);
        }
        foreach (var i in StateStore.Open(Path.Combine(_bed.State, "state.db")).Instances()) Processes.Signal(i.Pid, Processes.SIGKILL);
        _process.Dispose();
    }
}

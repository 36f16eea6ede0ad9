using Aviary.Core.Primitives;
using System.Diagnostics;
using System.Text;

namespace Aviary.TestKit;

/// <summary>
/// The programs the kube-apiserver harness runs, made available by <c>scripts/kube/ensure-kube-tools.sh</c>: etcd 3.4
/// and openssl (Debian packages), Debian's kubectl 1.20.2 and a kube-apiserver 1.20.2 built from Debian's
/// <c>kubernetes</c> source package (about 5 minutes on 2 cores the first time; cached in
/// <c>/var/cache/aviary</c>, see the script). Resolved once per test process. A failure is an exception with the
/// script's output: tests that need the API server fail with the reason, they never skip.
/// </summary>
public sealed record KubeTools(string KubeApiServer, string Kubectl, string Etcd, string Openssl)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static KubeTools? resolved;

    /// <summary>The script that installs or builds everything and prints <c>name=path</c> lines.</summary>
    public static string Script => Path.Combine(RepoPaths.Root, "scripts", "kube", "ensure-kube-tools.sh");

    /// <summary>Runs the script (once per process) and returns the programs' paths.</summary>
    public static async Task<KubeTools> EnsureAsync(CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken);
        try
        {
            return resolved ??= await RunScriptAsync(cancellationToken);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<KubeTools> RunScriptAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Script)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start " + Script);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        // The first build takes about 5 minutes on 2 cores; a slow machine gets plenty more.
        using var timeout = Deadline.After(TimeSpan.FromMinutes(40), TimeProvider.System, cancellationToken);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Script} did not finish within 40 minutes: {await stderr}");
        }
        var output = await stdout;
        var errors = await stderr;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Script} failed (exit {process.ExitCode}), so there is no kube-apiserver for the tests:\n{errors}{output}");
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) paths[line[..eq]] = line[(eq + 1)..];
        }
        string Get(string name) => paths.TryGetValue(name, out var path) && File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{Script} did not provide {name}; it printed:\n{output}\n{errors}");
        return new KubeTools(Get("kube-apiserver"), Get("kubectl"), Get("etcd"), Get("openssl"));
    }

    /// <summary>Runs a program to completion; throws with its output when it exits non-zero.</summary>
    internal static async Task<string> RunAsync(string program, IEnumerable<string> args, string? workingDirectory = null,
        string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var (code, stdout, stderr) = await RunRawAsync(program, args, workingDirectory, stdin, timeout, cancellationToken);
        if (code != 0)
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} failed (exit {code}): {stderr}{stdout}");
        return stdout;
    }

    internal static async Task<(int Code, string Stdout, string Stderr)> RunRawAsync(string program, IEnumerable<string> args,
        string? workingDirectory, string? stdin, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start " + program);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
            process.StandardInput.Close();
        }
        using var limit = Deadline.After(timeout ?? TimeSpan.FromMinutes(2), TimeProvider.System, cancellationToken);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', args)} did not finish in time");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

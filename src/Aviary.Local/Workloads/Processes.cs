using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Aviary.Local.Workloads;

/// <summary>What to start: a command line, environment, working directory and the log file for its output.</summary>
public sealed record ProcessLaunch(string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env, string WorkingDir, string LogPath);

/// <summary>A started process: its pid and its kernel start time, which together identify it across restarts of Aviary.</summary>
public sealed record StartedProcess(int Pid, long StartTicks, Process? Handle);

/// <summary>
/// Starting, finding and signalling instance processes on Linux. Each instance runs in its own session
/// (<c>setsid</c>) with its output appended to a log file rather than a pipe, so it survives — and can be
/// adopted after — a crash of the controller, and so that stopping it stops its whole process group.
/// </summary>
public static partial class Processes
{
    public const int SIGTERM = 15, SIGKILL = 9;

    /// <summary>Starts <paramref name="launch"/>; the error message, when it cannot be started, is data.</summary>
    public static (StartedProcess? Process, string? Error) Start(ProcessLaunch launch)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(launch.LogPath)!);
        var info = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDir,
            RedirectStandardInput = false,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        };
        // sh replaces itself with setsid, which replaces itself with the command: one pid throughout.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec setsid \"$0\" \"$@\" </dev/null >>\"$AVIARY_INSTANCE_LOG\" 2>&1");
        info.ArgumentList.Add(launch.Command);
        foreach (var a in launch.Args) info.ArgumentList.Add(a);
        foreach (var (k, v) in launch.Env) info.Environment[k] = v;
        info.Environment["AVIARY_INSTANCE_LOG"] = launch.LogPath;
        if (!Directory.Exists(launch.WorkingDir)) return (null, $"working directory {launch.WorkingDir} does not exist");
        try
        {
            var process = Process.Start(info);
            if (process is null) return (null, $"cannot start '{launch.Command}'");
            var ticks = StartTicks(process.Id) ?? 0;
            return (new StartedProcess(process.Id, ticks, process), null);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return (null, $"cannot start '{launch.Command}': {e.Message}");
        }
    }

    /// <summary>The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null when it is gone.</summary>
    public static long? StartTicks(int pid)
    {
        var stat = ReadStat(pid);
        if (stat is null) return null;
        var fields = stat.Value.AfterName.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is the state (field 3); the start time is field 22.
        return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    /// <summary>True when <paramref name="pid"/> runs and is the same process as recorded (its start time matches).</summary>
    public static bool IsAlive(int pid, long startTicks)
    {
        var stat = ReadStat(pid);
        if (stat is null) return false;
        var fields = stat.Value.AfterName.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0 || fields[0] is "Z" or "X") return false;
        return startTicks == 0 || StartTicks(pid) == startTicks;
    }

    private static (string Name, string AfterName)? ReadStat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var open = text.IndexOf('(', StringComparison.Ordinal);
            var close = text.LastIndexOf(')');
            if (open < 0 || close < open) return null;
            return (text[(open + 1)..close], text[(close + 1)..].Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Sends <paramref name="signal"/> to the process group of <paramref name="pid"/> (its own session), then to the pid.</summary>
    public static void Signal(int pid, int signal)
    {
        if (pid <= 1) return;
        _ = kill(-pid, signal);
        _ = kill(pid, signal);
    }

    /// <summary>Reaps a child we started (so it does not linger as a zombie); harmless for others.</summary>
    public static void Reap(Process? handle)
    {
        if (handle is null) return;
        try
        {
            if (handle.HasExited) handle.Dispose();
        }
        catch (InvalidOperationException)
        {
        }
    }

    private const int LowestPort = 10_000;

    private static readonly int EphemeralLow = ReadEphemeralLow();

    /// <summary>
    /// A loopback TCP port for an instance (or another server of ours) that was free a moment ago. Not the kernel's
    /// choice for a bind to port 0: that comes from the ephemeral range, which every outgoing connection and every
    /// other bind to port 0 on the machine also draws from, so between this check and the instance's own bind another
    /// process could take it — and the instance's readiness probes would then reach that process. Ports come from
    /// below the ephemeral range (<c>/proc/sys/net/ipv4/ip_local_port_range</c>), which the kernel never hands out by
    /// itself, picked at random and checked free by binding.
    /// </summary>
    public static int FreePort()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(LowestPort, EphemeralLow);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                // Taken: try another.
            }
        }
        throw new InvalidOperationException($"no free port between {LowestPort} and {EphemeralLow} after 1000 tries");
    }

    private static int ReadEphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (int.TryParse(range[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var low) && low > LowestPort + 1000) return low;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
        }
        return 32_768;
    }

    /// <summary>The last non-empty line of a log file, to explain why an instance died.</summary>
    public static string? LastLogLine(string path, int maxBytes = 4096)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, f.Length - maxBytes);
            f.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(f);
            var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var last = lines.LastOrDefault();
            return last is null ? null : last.Length > 300 ? last[..300] + "…" : last;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}

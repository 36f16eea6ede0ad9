using System.Diagnostics;

namespace Aviary.TestKit;

/// <summary>
/// Makes sure the Debian packages a test needs are installed (scripts/ensure-packages.sh, idempotent), so that a
/// test run straight from `dotnet test` works too. A test that needs a program never silently skips: it fails with
/// what went wrong.
/// </summary>
public static class DebianPackages
{
    private static readonly object Gate = new();

    public static void Ensure(params string[] packages)
    {
        lock (Gate)
        {
            var info = new ProcessStartInfo(Path.Combine(RepoPaths.Root, "scripts", "ensure-packages.sh"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var p in packages) info.ArgumentList.Add(p);
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"installing {string.Join(", ", packages)} took more than 10 minutes");
            }
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"cannot install {string.Join(", ", packages)}: {stderr.Result}{stdout.Result}");
        }
    }

    /// <summary>The full path of a program, looked up in PATH and the sbin folders.</summary>
    public static string Which(string program)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]);
        foreach (var dir in dirs.Where(d => d.Length > 0))
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException($"{program} is not installed");
    }
}

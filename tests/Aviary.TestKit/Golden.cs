namespace Aviary.TestKit;

/// <summary>Golden-file comparison; AVIARY_UPDATE_GOLDEN=1 rewrites the file in the source tree instead.</summary>
public static class Golden
{
    /// <param name="relativePath">Path under the calling test project's folder, e.g. <c>Scheduling/Golden/x.txt</c>.</param>
    public static void Verify(string relativePath, string actual, [System.Runtime.CompilerServices.CallerFilePath] string caller = "")
    {
        var project = FindProjectDir(Path.GetDirectoryName(caller)!);
        var path = Path.Combine(project, relativePath);
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("AVIARY_UPDATE_GOLDEN") == "1" || !File.Exists(path) && Environment.GetEnvironmentVariable("CI") is null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            if (Environment.GetEnvironmentVariable("AVIARY_UPDATE_GOLDEN") != "1")
                throw new InvalidOperationException($"golden file {path} did not exist and was created; check it and run again");
            return;
        }
        var expected = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        if (expected != actual)
        {
            var e = expected.Split('\n');
            var a = actual.Split('\n');
            var line = 0;
            while (line < Math.Min(e.Length, a.Length) && e[line] == a[line]) line++;
            throw new Xunit.Sdk.XunitException(
                $"output differs from {path} at line {line + 1}:\n  expected: {(line < e.Length ? e[line] : "<end>")}\n  actual:   {(line < a.Length ? a[line] : "<end>")}\n" +
                "(AVIARY_UPDATE_GOLDEN=1 rewrites the golden file)\n--- actual ---\n" + actual);
        }
    }

    private static string FindProjectDir(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (dir.EnumerateFiles("*.csproj").Any()) return dir.FullName;
        throw new InvalidOperationException("no project folder above " + start);
    }
}

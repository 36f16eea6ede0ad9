namespace Aviary.TestKit;

/// <summary>Finds the repository and the steering folder's shared test data.</summary>
public static class RepoPaths
{
    /// <summary>The repository root (the folder holding Aviary.slnx).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The shared folder with Flagger's conformance manifests and schemas: <c>$AVIARY_SHARED</c>, else
    /// <c>../shared</c> next to the repository (where the project keeps it), else the first ancestor
    /// folder holding <c>shared/conformance</c>. Tests that need it fail, never skip, when it is absent.
    /// </summary>
    public static string Shared { get; } = FindShared();

    public static string Conformance => Path.Combine(Shared, "conformance", "flagger", "manifests");

    public static string Examples => Path.Combine(Root, "examples");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Aviary.slnx"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (Aviary.slnx) above " + AppContext.BaseDirectory);
    }

    private static string FindShared()
    {
        var env = Environment.GetEnvironmentVariable("AVIARY_SHARED");
        if (!string.IsNullOrEmpty(env)) return Check(env);
        for (var dir = new DirectoryInfo(Root); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "conformance"))) return candidate;
        }
        const string workspace = "/work/shared";
        if (Directory.Exists(Path.Combine(workspace, "conformance"))) return workspace;
        throw new InvalidOperationException(
            "cannot find the shared test data (shared/conformance): set AVIARY_SHARED to the folder that holds conformance/ and schemas/");
    }

    private static string Check(string path) =>
        Directory.Exists(Path.Combine(path, "conformance")) ? path
            : throw new InvalidOperationException($"AVIARY_SHARED={path} has no conformance/ folder");
}

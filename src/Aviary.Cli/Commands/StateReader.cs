using Aviary.Local.Store;

namespace Aviary.Cli.Commands;

/// <summary>Opens a controller's state for reading, with a clear message when there is none.</summary>
internal static class StateReader
{
    public static StateStore? Open(CliIO io, string stateDir)
    {
        var db = Path.Combine(stateDir, "state.db");
        if (File.Exists(db)) return StateStore.Open(db);
        io.Error.WriteLine($"no Aviary state in {Path.GetFullPath(stateDir)}: start a controller with `aviary run -f MANIFESTS` (or pass --state)");
        return null;
    }

    /// <summary>Finds a canary by name (and namespace); prints what is known when it is missing or ambiguous.</summary>
    public static CanaryRecord? Find(CliIO io, StateStore store, string name, string? ns)
    {
        var all = store.ListCanaries();
        var matches = all.Where(c => c.Name == name && (ns is null || c.Namespace == ns)).ToList();
        if (matches.Count == 1) return matches[0];
        if (matches.Count > 1)
            io.Error.WriteLine($"canary {name} exists in several namespaces ({string.Join(", ", matches.Select(m => m.Namespace))}): pass --namespace");
        else
            io.Error.WriteLine($"canary {name}{(ns is null ? "" : $" in namespace {ns}")} not found; known: {(all.Count == 0 ? "none" : string.Join(", ", all.Select(c => $"{c.Namespace}/{c.Name}")))}");
        return null;
    }

    public static string Age(DateTimeOffset time, DateTimeOffset now)
    {
        var age = now - time;
        if (age < TimeSpan.Zero) age = TimeSpan.Zero;
        return age.TotalSeconds < 120 ? $"{(int)age.TotalSeconds}s"
            : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }
}

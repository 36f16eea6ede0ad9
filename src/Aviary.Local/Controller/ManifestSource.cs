using Aviary.Core.Primitives;
using System.Text;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Core.Validation;
using Aviary.Local.Workloads;

namespace Aviary.Local.Controller;

/// <summary>A document that failed validation, with where it came from.</summary>
public sealed record InvalidManifest(string File, string Label, IReadOnlyList<Diagnostic> Errors);

/// <summary>Everything the manifest files declare right now.</summary>
public sealed record ManifestSnapshot(
    IReadOnlyDictionary<string, CanaryPolicy> Canaries,
    IReadOnlyDictionary<string, WorkloadSource> Workloads,
    IReadOnlyDictionary<string, MetricTemplate> MetricTemplates,
    IReadOnlyDictionary<string, AlertProvider> AlertProviders,
    IReadOnlyList<InvalidManifest> Invalid,
    long Version)
{
    public static ManifestSnapshot Empty { get; } = new(
        new Dictionary<string, CanaryPolicy>(), new Dictionary<string, WorkloadSource>(), new Dictionary<string, MetricTemplate>(),
        new Dictionary<string, AlertProvider>(), [], 0);

    /// <summary>Key of a namespaced object: <c>name.namespace</c>.</summary>
    public static string Key(string name, string ns) => $"{name}.{ns}";
}

/// <summary>
/// Reads the manifest files and folders a controller was given, plus the documents applied through its API
/// (kept in <c>STATE/applied</c>, which win over the files), and notices when any of them change (polling: reliable
/// everywhere, including editors that replace files). A document that becomes invalid does not take down what
/// runs: the last valid version of that object is kept and the errors are reported.
/// </summary>
public sealed class ManifestSource(IReadOnlyList<string> paths, string appliedDir)
{
    private static readonly string[] Extensions = [".yaml", ".yml", ".json"];
    private string _fingerprint = "";
    private ManifestSnapshot _current = ManifestSnapshot.Empty;

    public ManifestSnapshot Current => _current;

    public string AppliedDir => appliedDir;

    /// <summary>Re-reads the files when something changed; returns true with a new snapshot when it did.</summary>
    public bool Refresh()
    {
        var files = Files();
        var fingerprint = Fingerprint(files);
        if (fingerprint == _fingerprint) return false;
        _fingerprint = fingerprint;
        _current = Read(files, _current);
        return true;
    }

    private List<string> Files()
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsManifest).Order(StringComparer.Ordinal));
            else
                files.Add(path);
        }
        if (Directory.Exists(appliedDir))
            files.AddRange(Directory.EnumerateFiles(appliedDir).Where(IsManifest).Order(StringComparer.Ordinal));
        return files.Select(Path.GetFullPath).Distinct().ToList();
    }

    private static bool IsManifest(string file) => Extensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase);

    private static string Fingerprint(List<string> files)
    {
        var sb = new StringBuilder();
        foreach (var f in files)
        {
            var info = new FileInfo(f);
            sb.Append(f).Append('|').Append(info.Exists ? info.Length : -1).Append('|').Append(info.Exists ? info.LastWriteTimeUtc.Ticks : 0).Append('\n');
        }
        return Hashing.Sha256(sb.ToString());
    }

    private static ManifestSnapshot Read(List<string> files, ManifestSnapshot previous)
    {
        var canaries = new Dictionary<string, CanaryPolicy>(StringComparer.Ordinal);
        var workloads = new Dictionary<string, WorkloadSource>(StringComparer.Ordinal);
        var templates = new Dictionary<string, MetricTemplate>(StringComparer.Ordinal);
        var providers = new Dictionary<string, AlertProvider>(StringComparer.Ordinal);
        var invalid = new List<InvalidManifest>();
        foreach (var file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                invalid.Add(new InvalidManifest(file, "file", [Diagnostic.Error("", $"cannot read: {e.Message}")]));
                continue;
            }
            var parsed = ManifestReader.Read(text, file);
            if (parsed.SyntaxError is { } syntax) invalid.Add(new InvalidManifest(file, "file", [syntax]));
            var dir = Path.GetDirectoryName(file)!;
            foreach (var doc in parsed.Documents.Where(d => !d.Skipped))
            {
                var ns = doc.Manifest?.Metadata.EffectiveNamespace ?? "default";
                var key = ManifestSnapshot.Key(doc.Name ?? "", ns);
                if (!doc.IsValid)
                {
                    invalid.Add(new InvalidManifest(file, doc.Label, doc.Diagnostics.Where(d => d.IsError).ToList()));
                    // Keep what ran before rather than dropping it on a typo.
                    if (doc.Kind == Canary.KindName && previous.Canaries.TryGetValue(key, out var keepCanary)) canaries[key] = keepCanary;
                    if (doc.Kind == Workload.KindName && previous.Workloads.TryGetValue(key, out var keepWorkload)) workloads[key] = keepWorkload;
                    continue;
                }
                switch (doc.Compiled)
                {
                    case CanaryPolicy c: canaries[key] = c; break;
                    case Workload w: workloads[key] = new WorkloadSource(w, dir); break;
                    case MetricTemplate t: templates[key] = t; break;
                    case AlertProvider a: providers[key] = a; break;
                }
            }
        }
        return new ManifestSnapshot(canaries, workloads, templates, providers, invalid, previous.Version + 1);
    }

    /// <summary>Stores a document applied through the API, atomically, where <see cref="Refresh"/> will read it.</summary>
    public static void WriteApplied(string appliedDir, ManifestDocument doc, string yaml)
    {
        Directory.CreateDirectory(appliedDir);
        var ns = doc.Manifest?.Metadata.EffectiveNamespace ?? "default";
        var name = $"{doc.Kind}.{ns}.{doc.Name}.yaml".ToLowerInvariant();
        var target = Path.Combine(appliedDir, name);
        var temp = target + ".tmp";
        File.WriteAllText(temp, yaml);
        File.Move(temp, target, overwrite: true);
    }
}

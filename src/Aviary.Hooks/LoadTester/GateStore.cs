using System.Text.Json;

namespace Aviary.Hooks.LoadTester;

/// <summary>
/// The load tester's gates (<c>name.namespace</c> and <c>rollback.name.namespace</c>), closed until opened. With a
/// folder, every change is written to <c>gates.json</c> there — a temporary file renamed over the old one, so a crash
/// leaves the old or the new state, never a torn file — and read back at start.
/// </summary>
internal sealed class GateStore
{
    public const string FileName = "gates.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly Lock _gate = new();
    private readonly Dictionary<string, bool> _gates = new(StringComparer.Ordinal);
    private readonly string? _path;

    private GateStore(string? directory) => _path = directory is null ? null : Path.Combine(directory, FileName);

    /// <summary>Opens the store of <paramref name="directory"/> (null: in memory); throws when its file is unreadable.</summary>
    public static GateStore Open(string? directory)
    {
        var store = new GateStore(directory);
        if (directory is null) return store;
        Directory.CreateDirectory(directory);
        if (!File.Exists(store._path)) return store;
        try
        {
            var state = JsonSerializer.Deserialize<State>(File.ReadAllText(store._path), Json);
            if (state?.Gates is { } gates) foreach (var (key, open) in gates) store._gates[key] = open;
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"the gate state file {store._path} is not valid JSON: {e.Message}", e);
        }
        return store;
    }

    public bool IsOpen(string key)
    {
        lock (_gate) return _gates.GetValueOrDefault(key);
    }

    public void Set(string key, bool open)
    {
        lock (_gate)
        {
            _gates[key] = open;
            if (_path is null) return;
            var temp = _path + ".tmp";
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(file, new State { Gates = new SortedDictionary<string, bool>(_gates, StringComparer.Ordinal) }, Json);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, _path, overwrite: true);
        }
    }

    private sealed class State
    {
        [System.Text.Json.Serialization.JsonPropertyName("gates")]
        public IDictionary<string, bool>? Gates { get; init; }
    }
}

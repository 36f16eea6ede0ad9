using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// Small helpers to read and write Kubernetes objects kept as <see cref="JsonObject"/> (so that a read-modify-write
/// keeps every field Aviary has no model for).
/// </summary>
internal static class JsonTree
{
    /// <summary>The object at <paramref name="path"/>, or null.</summary>
    public static JsonObject? Object(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
        {
            if (node is not JsonObject o) return null;
            node = o[name];
        }
        return node as JsonObject;
    }

    /// <summary>The array at <paramref name="path"/>, or null.</summary>
    public static JsonArray? Array(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
        {
            if (node is not JsonObject o) return null;
            node = o[name];
        }
        return node as JsonArray;
    }

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? String(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
        {
            if (node is not JsonObject o) return null;
            node = o[name];
        }
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    }

    /// <summary>The integer at <paramref name="path"/>, or null.</summary>
    public static long? Long(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
        {
            if (node is not JsonObject o) return null;
            node = o[name];
        }
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var n)) return n;
        return null;
    }

    /// <summary>The boolean at <paramref name="path"/>, or null.</summary>
    public static bool? Bool(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
        {
            if (node is not JsonObject o) return null;
            node = o[name];
        }
        return node is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
    }

    /// <summary>The object named <paramref name="name"/> in <paramref name="parent"/>, created when missing (or not an object).</summary>
    public static JsonObject Ensure(JsonObject parent, string name)
    {
        if (parent[name] is JsonObject o) return o;
        var created = new JsonObject();
        parent[name] = created;
        return created;
    }

    /// <summary>A string map (labels, annotations, selector, data); empty when missing.</summary>
    public static SortedDictionary<string, string> Map(JsonNode? node)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (node is not JsonObject o) return map;
        foreach (var (key, value) in o)
            if (value is JsonValue v && v.TryGetValue<string>(out var s)) map[key] = s;
        return map;
    }

    /// <summary>A JSON object of a string map.</summary>
    public static JsonObject ToNode(IEnumerable<KeyValuePair<string, string>> map)
    {
        var node = new JsonObject();
        foreach (var (key, value) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal)) node[key] = value;
        return node;
    }

    /// <summary>A deep copy (or null).</summary>
    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();

    /// <summary>
    /// The node as JSON with object keys sorted (ordinal) at every level and no whitespace: equal documents give
    /// equal text, whatever their field order. Used for hashes and for "did anything change" comparisons.
    /// </summary>
    public static string Canonical(JsonNode? node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, SkipValidation = false }))
            WriteCanonical(writer, node);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Whether two nodes are the same document (see <see cref="Canonical"/>).</summary>
    public static bool Same(JsonNode? a, JsonNode? b) => string.Equals(Canonical(a), Canonical(b), StringComparison.Ordinal);

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject o:
                writer.WriteStartObject();
                foreach (var (key, value) in o.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray a:
                writer.WriteStartArray();
                foreach (var item in a) WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    /// <summary>An RFC 3339 time of the API (<c>2024-01-02T03:04:05Z</c>), or null.</summary>
    public static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : null;

    /// <summary>A time as the API writes it (seconds, UTC).</summary>
    public static string Format(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

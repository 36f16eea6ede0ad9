using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Primitives;

namespace Aviary.Core.Validation;

/// <summary>
/// Checks a JSON tree against a <see cref="TypeSchema"/>: types, required fields, enums, ranges and unknown
/// fields. Returns a cleaned copy without the offending values so that the typed model can always be bound
/// and the semantic rules can still run: every error is reported in one pass.
/// </summary>
public sealed class SchemaValidator(SourceMap? positions, DiagnosticBag diagnostics)
{
    public JsonNode? Validate(TypeSchema schema, JsonNode? node, string path) => schema switch
    {
        ObjectSchema o => ValidateObject(o, node, path),
        ArraySchema a => ValidateArray(a, node, path),
        MapSchema m => ValidateMap(m, node, path),
        StringSchema => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.DeepClone() : Mismatch(node, path, "a string"),
        BooleanSchema => node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False
            ? v.DeepClone()
            : Mismatch(node, path, "a boolean (true or false)"),
        IntegerSchema i => ValidateInteger(i, node, path),
        NumberSchema => ValidateNumber(node, path),
        IntOrStringSchema => ValidateIntOrString(node, path),
        DateTimeSchema => ValidateDateTime(node, path),
        AnySchema any => ValidateAny(any, node, path),
        _ => throw new NotSupportedException(schema.ToString()),
    };

    private JsonNode? ValidateObject(ObjectSchema schema, JsonNode? node, string path)
    {
        if (node is not JsonObject obj) return Mismatch(node, path, "an object");
        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var childPath = FieldPath.Property(path, key);
            var property = schema.Find(key);
            if (property is null)
            {
                var suggestion = Suggestions.Closest(key, schema.Properties.Select(p => p.JsonName));
                diagnostics.Warning(childPath,
                    suggestion is null ? "unknown field, ignored" : $"unknown field, did you mean {suggestion}?",
                    positions?.OfKey(obj, key));
                continue;
            }
            if (value is null) continue; // Kubernetes drops null fields.
            var cleaned = Validate(property.Schema, value, childPath);
            if (cleaned is null) continue;
            if (!CheckConstraints(property, cleaned, childPath, value)) continue;
            result[key] = cleaned;
        }
        foreach (var property in schema.Properties)
        {
            if (property.Required && obj[property.JsonName] is null)
                diagnostics.Error(FieldPath.Property(path, property.JsonName), "required field is missing", positions?.Of(obj));
        }
        return result;
    }

    private bool CheckConstraints(PropertySchema property, JsonNode cleaned, string path, JsonNode original)
    {
        var position = positions?.Of(original);
        if (property.AllowedValues is { } allowed && cleaned is JsonValue sv && sv.TryGetValue<string>(out var s) &&
            !allowed.Contains(s, StringComparer.Ordinal))
        {
            var listed = string.Join(", ", allowed.Where(a => a.Length > 0));
            var suggestion = Suggestions.Closest(s, allowed);
            diagnostics.Error(path,
                $"must be one of {listed} (got '{s}')" + (suggestion is null ? "" : $"; did you mean {suggestion}?"), position);
            return false;
        }
        if (property.Range is { } range && cleaned.TryGetNumber(out var n) && (n < range.Min || n > range.Max))
        {
            diagnostics.Error(path, $"must be between {Format(range.Min)} and {Format(range.Max)} (got {Format(n)})", position);
            return false;
        }
        if (property.Length is { } length && cleaned is JsonValue lv && lv.TryGetValue<string>(out var text) &&
            (text.Length < length.Min || text.Length > length.Max))
        {
            diagnostics.Error(path, $"must be {length.Min} to {length.Max} characters long (got {text.Length})", position);
            return false;
        }
        if (property.MaxItems is { } max && cleaned is JsonArray array && array.Count > max)
        {
            diagnostics.Error(path, $"must have at most {max} items (got {array.Count})", position);
            return false;
        }
        return true;
    }

    private JsonNode? ValidateArray(ArraySchema schema, JsonNode? node, string path)
    {
        if (node is not JsonArray array) return Mismatch(node, path, "a list");
        var result = new JsonArray();
        for (var i = 0; i < array.Count; i++)
        {
            var itemPath = FieldPath.Index(path, i);
            if (array[i] is null)
            {
                diagnostics.Error(itemPath, "must not be null", positions?.Of(array));
                continue;
            }
            var cleaned = Validate(schema.Element, array[i], itemPath);
            if (cleaned is not null) result.Add(cleaned);
        }
        return result;
    }

    private JsonNode? ValidateMap(MapSchema schema, JsonNode? node, string path)
    {
        if (node is not JsonObject obj) return Mismatch(node, path, "a map");
        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var childPath = FieldPath.Property(path, key);
            if (value is null)
            {
                if (schema.Value is StringSchema) diagnostics.Error(childPath, "must be a string (got null)", positions?.OfKey(obj, key));
                continue;
            }
            var cleaned = Validate(schema.Value, value, childPath);
            if (cleaned is not null) result[key] = cleaned;
        }
        return result;
    }

    private JsonNode? ValidateInteger(IntegerSchema schema, JsonNode? node, string path)
    {
        var (min, max) = schema.Is32Bit ? (int.MinValue, int.MaxValue) : (long.MinValue, long.MaxValue);
        // Read 64-bit integers exactly: a double cannot tell long.MaxValue from long.MaxValue + 1.
        if (node is JsonValue exact && exact.GetValueKind() == JsonValueKind.Number && exact.TryGetValue<long>(out var l))
            return l < min || l > max ? OutOfRange(node, path, min, max, l.ToString(CultureInfo.InvariantCulture)) : Integer(schema, l);
        if (!node.TryGetNumber(out var d)) return Mismatch(node, path, "an integer");
        if (!double.IsFinite(d) || Math.Floor(d) != d) return Mismatch(node, path, "an integer");
        // (double)long.MaxValue rounds up to 2^63, which no long holds: compare with >=.
        if (d < min || (schema.Is32Bit ? d > max : d >= 9.223372036854775807E18))
            return OutOfRange(node, path, min, max, Format(d));
        return Integer(schema, (long)d);
    }

    private static JsonValue Integer(IntegerSchema schema, long value) =>
        schema.Is32Bit ? JsonValue.Create((int)value) : JsonValue.Create(value);

    private JsonNode? OutOfRange(JsonNode? node, string path, long min, long max, string got)
    {
        diagnostics.Error(path, $"must be an integer between {min.ToString(CultureInfo.InvariantCulture)} and " +
            $"{max.ToString(CultureInfo.InvariantCulture)} (got {got})", positions?.Of(node));
        return null;
    }

    private JsonNode? ValidateNumber(JsonNode? node, string path)
    {
        if (!node.TryGetNumber(out var d)) return Mismatch(node, path, "a number");
        return double.IsFinite(d) ? JsonValue.Create(d) : Mismatch(node, path, "a finite number");
    }

    private JsonNode? ValidateIntOrString(JsonNode? node, string path)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.DeepClone();
        if (node is JsonValue n && n.GetValueKind() == JsonValueKind.Number)
            return ValidateInteger(new IntegerSchema(true), node, path);
        return Mismatch(node, path, "an integer or a string");
    }

    private JsonNode? ValidateDateTime(JsonNode? node, string path)
    {
        // Checked with the deserializer that binds the model, so that what passes here always binds.
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            try
            {
                _ = v.Deserialize<DateTimeOffset>(ModelJson.Options);
                return v.DeepClone();
            }
            catch (JsonException)
            {
                // reported below
            }
        }
        return Mismatch(node, path, "an RFC 3339 date-time such as 2024-01-02T15:04:05Z");
    }

    private JsonNode? ValidateAny(AnySchema schema, JsonNode? node, string path)
    {
        if (schema.NodeType == typeof(JsonObject) && node is not JsonObject) return Mismatch(node, path, "an object");
        if (schema.NodeType == typeof(JsonArray) && node is not JsonArray) return Mismatch(node, path, "a list");
        // JSON has no NaN or infinity (YAML's .nan and .inf): Kubernetes rejects them, and they cannot be serialized.
        if (FindNonFinite(node, path) is { } bad)
        {
            diagnostics.Error(bad.Path, $"must be a finite number (got {Describe(bad.Node)})", positions?.Of(bad.Node));
            return null;
        }
        return node?.DeepClone();
    }

    private static (string Path, JsonNode Node)? FindNonFinite(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                    if (FindNonFinite(value, FieldPath.Property(path, key)) is { } found) return found;
                return null;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    if (FindNonFinite(array[i], FieldPath.Index(path, i)) is { } found) return found;
                return null;
            case JsonValue value when value.TryGetNumber(out var d) && !double.IsFinite(d):
                return (path, value);
            default:
                return null;
        }
    }

    private JsonNode? Mismatch(JsonNode? node, string path, string expected)
    {
        diagnostics.Error(path, $"must be {expected} (got {Describe(node)})", positions?.Of(node));
        return null;
    }

    /// <summary>Describes a value for an error message, e.g. <c>string 'ten'</c> or <c>a list</c>.</summary>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "a list",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => $"string '{Truncate(v.GetValue<string>())}'",
            JsonValueKind.Number => v.TryGetNumber(out var d) ? Format(d) : v.ToJsonString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => v.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..57] + "...";

    internal static string Format(double d) => d.ToString("G15", CultureInfo.InvariantCulture);
}

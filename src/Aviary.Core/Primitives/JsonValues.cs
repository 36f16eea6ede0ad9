using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Core.Primitives;

/// <summary>Reads numbers from JSON values whatever CLR type backs them.</summary>
public static class JsonValues
{
    public static bool TryGetNumber(this JsonNode? node, out double value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return false;
        if (v.TryGetValue(out double d)) value = d;
        else if (v.TryGetValue(out long l)) value = l;
        else if (v.TryGetValue(out int i)) value = i;
        else if (v.TryGetValue(out JsonElement e) && e.TryGetDouble(out var ed)) value = ed;
        else if (!double.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float,
                     System.Globalization.CultureInfo.InvariantCulture, out value)) return false;
        return true;
    }

    public static bool TryGetString(this JsonNode? node, out string value)
    {
        value = "";
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.String) return false;
        value = v.GetValue<string>();
        return true;
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aviary.Core.Primitives;

/// <summary>Kubernetes' int-or-string (a port number or a port name).</summary>
[JsonConverter(typeof(IntOrStringConverter))]
public readonly record struct IntOrString
{
    public int? IntValue { get; }
    public string? StringValue { get; }

    public IntOrString(int value) { IntValue = value; StringValue = null; }
    public IntOrString(string value) { IntValue = null; StringValue = value; }

    public bool IsInt => IntValue.HasValue;

    public override string ToString() =>
        IntValue?.ToString(CultureInfo.InvariantCulture) ?? StringValue ?? "";
}

internal sealed class IntOrStringConverter : JsonConverter<IntOrString>
{
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Number => new IntOrString(reader.GetInt32()),
            JsonTokenType.String => new IntOrString(reader.GetString()!),
            _ => throw new JsonException("expected an integer or a string"),
        };

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.IntValue is { } i) writer.WriteNumberValue(i);
        else writer.WriteStringValue(value.StringValue);
    }
}

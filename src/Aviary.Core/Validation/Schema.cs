using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Aviary.Core.Primitives;

namespace Aviary.Core.Validation;

/// <summary>
/// The structural schema of a model type, read from the C# records themselves (property types plus
/// <see cref="RequiredAttribute"/>, <see cref="AllowedValuesAttribute"/>, <see cref="RangeAttribute"/>,
/// <see cref="StringLengthAttribute"/> and <see cref="MaxLengthAttribute"/>). One description drives
/// validation of YAML and JSON input and the generated CRDs.
/// </summary>
public abstract record TypeSchema
{
    private static readonly ConcurrentDictionary<Type, TypeSchema> Cache = new();

    public static TypeSchema For(Type type) => Cache.GetOrAdd(type, Build);

    private static TypeSchema Build(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string)) return new StringSchema();
        if (underlying == typeof(bool)) return new BooleanSchema();
        if (underlying == typeof(int) || underlying == typeof(long)) return new IntegerSchema(underlying == typeof(int));
        if (underlying == typeof(double)) return new NumberSchema();
        if (underlying == typeof(IntOrString)) return new IntOrStringSchema();
        if (underlying == typeof(DateTimeOffset)) return new DateTimeSchema();
        if (typeof(JsonNode).IsAssignableFrom(underlying)) return new AnySchema(underlying);
        if (underlying.IsGenericType)
        {
            var def = underlying.GetGenericTypeDefinition();
            var args = underlying.GetGenericArguments();
            if (def == typeof(IReadOnlyList<>) || def == typeof(List<>) || def == typeof(IList<>))
                return new ArraySchema(args[0]);
            if (def == typeof(IReadOnlyDictionary<,>) || def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>))
                return new MapSchema(args[1]);
        }
        // Records, and record structs such as counts kept in the status.
        if (underlying.IsClass || (underlying.IsValueType && !underlying.IsPrimitive && !underlying.IsEnum)) return new ObjectSchema(underlying);
        throw new NotSupportedException($"no schema for {type}");
    }
}

public sealed record StringSchema : TypeSchema;

public sealed record BooleanSchema : TypeSchema;

public sealed record IntegerSchema(bool Is32Bit) : TypeSchema;

public sealed record NumberSchema : TypeSchema;

public sealed record IntOrStringSchema : TypeSchema;

public sealed record DateTimeSchema : TypeSchema;

/// <summary>Free-form JSON (<see cref="JsonNode"/>, <see cref="JsonObject"/> or <see cref="JsonArray"/>).</summary>
public sealed record AnySchema(Type NodeType) : TypeSchema;

public sealed record ArraySchema(Type ElementType) : TypeSchema
{
    public TypeSchema Element => For(ElementType);
}

public sealed record MapSchema(Type ValueType) : TypeSchema
{
    public TypeSchema Value => For(ValueType);
}

/// <summary>An object with named properties; unknown names are reported as warnings.</summary>
public sealed record ObjectSchema(Type ClrType) : TypeSchema
{
    private IReadOnlyList<PropertySchema>? _properties;

    public IReadOnlyList<PropertySchema> Properties => _properties ??= ReadProperties(ClrType);

    public PropertySchema? Find(string jsonName) => Properties.FirstOrDefault(p => p.JsonName == jsonName);

    private static List<PropertySchema> ReadProperties(Type type)
    {
        var naming = JsonNamingPolicy.CamelCase;
        var list = new List<PropertySchema>();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetCustomAttribute<JsonIgnoreAttribute>() is not null || p.SetMethod is null) continue;
            var name = p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? naming.ConvertName(p.Name);
            var allowed = p.GetCustomAttribute<AllowedValuesAttribute>()?.Values.Select(v => v?.ToString() ?? "").ToArray();
            var range = p.GetCustomAttribute<RangeAttribute>();
            var length = p.GetCustomAttribute<StringLengthAttribute>();
            list.Add(new PropertySchema(
                name,
                p.PropertyType,
                p.GetCustomAttribute<RequiredAttribute>() is not null,
                allowed,
                range is null ? null : (Convert.ToDouble(range.Minimum, System.Globalization.CultureInfo.InvariantCulture),
                    Convert.ToDouble(range.Maximum, System.Globalization.CultureInfo.InvariantCulture)),
                length is null ? null : (length.MinimumLength, length.MaximumLength),
                p.GetCustomAttribute<MaxLengthAttribute>()?.Length));
        }
        return list;
    }
}

/// <summary>One property of an <see cref="ObjectSchema"/> with its constraints.</summary>
public sealed record PropertySchema(
    string JsonName,
    Type ClrType,
    bool Required,
    IReadOnlyList<string>? AllowedValues,
    (double Min, double Max)? Range,
    (int Min, int Max)? Length,
    int? MaxItems)
{
    public TypeSchema Schema => TypeSchema.For(ClrType);
}

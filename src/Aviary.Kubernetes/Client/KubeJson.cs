using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// The JSON conventions of the client: System.Text.Json, camelCase property names (Kubernetes' own), nulls omitted
/// when writing, dictionary keys (labels, annotations, data) kept as they are. Typed models used with the client
/// should carry a <see cref="JsonExtensionDataAttribute"/> dictionary so that a read-modify-write (PUT) keeps the
/// fields the model does not know; otherwise work on <see cref="JsonObject"/>.
/// </summary>
public static class KubeJson
{
    /// <summary>The serializer options every request and answer uses (read-only).</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Serializes an object (typed or <see cref="JsonNode"/>) to a detached <see cref="JsonObject"/>.</summary>
    public static JsonObject ToObject<T>(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value is JsonObject node) return (JsonObject)node.DeepClone();
        return JsonSerializer.SerializeToNode(value, Options) as JsonObject
            ?? throw new ArgumentException($"{typeof(T).Name} does not serialize to a JSON object", nameof(value));
    }

    /// <summary>Converts a JSON object to <typeparamref name="T"/> (a clone when <typeparamref name="T"/> is a node type).</summary>
    public static T FromObject<T>(JsonObject node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (typeof(T) == typeof(JsonObject) || typeof(T) == typeof(JsonNode)) return (T)(object)node.DeepClone();
        return node.Deserialize<T>(Options) ?? throw new JsonException($"null where a {typeof(T).Name} was expected");
    }

    /// <summary><c>metadata.name</c>, or null.</summary>
    public static string? Name(JsonNode? node) => Metadata(node, "name");

    /// <summary><c>metadata.namespace</c>, or null.</summary>
    public static string? Namespace(JsonNode? node) => Metadata(node, "namespace");

    /// <summary><c>metadata.resourceVersion</c>, or null.</summary>
    public static string? ResourceVersion(JsonNode? node) => Metadata(node, "resourceVersion");

    private static string? Metadata(JsonNode? node, string field) =>
        node?["metadata"]?[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            NumberHandling = JsonNumberHandling.Strict,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.MakeReadOnly();
        return options;
    }
}

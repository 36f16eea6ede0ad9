using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aviary.Core.Validation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aviary.Core.Manifests;

/// <summary>One YAML document as a JSON tree, with the source position of every node.</summary>
public sealed record YamlDocumentNode(int Index, JsonNode? Root, SourceMap Positions, SourcePosition Start);

/// <summary>The result of reading a YAML stream: its documents, or the syntax error that stopped the reader.</summary>
public sealed record YamlReadResult(IReadOnlyList<YamlDocumentNode> Documents, Diagnostic? SyntaxError);

/// <summary>Source positions of the nodes and keys of a JSON tree read from YAML.</summary>
public sealed class SourceMap
{
    private readonly Dictionary<JsonNode, SourcePosition> _nodes = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(JsonObject, string), SourcePosition> _keys = new(KeyComparer.Instance);

    internal void SetNode(JsonNode node, SourcePosition position) => _nodes[node] = position;

    internal void SetKey(JsonObject owner, string key, SourcePosition position) => _keys[(owner, key)] = position;

    public SourcePosition? Of(JsonNode? node) => node is not null && _nodes.TryGetValue(node, out var p) ? p : null;

    public SourcePosition? OfKey(JsonObject owner, string key) => _keys.TryGetValue((owner, key), out var p) ? p : null;

    private sealed class KeyComparer : IEqualityComparer<(JsonObject, string)>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals((JsonObject, string) x, (JsonObject, string) y) =>
            ReferenceEquals(x.Item1, y.Item1) && string.Equals(x.Item2, y.Item2, StringComparison.Ordinal);

        public int GetHashCode((JsonObject, string) obj) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Item1), obj.Item2);
    }
}

/// <summary>
/// Reads YAML into JSON trees the way Kubernetes does (YAML 1.1 scalars: <c>yes</c>/<c>on</c> are booleans,
/// quoted scalars are always strings, <c>null</c> and <c>~</c> are null), with limits that keep hostile input cheap.
/// </summary>
public static partial class YamlReader
{
    /// <summary>Most nodes one document may expand to (aliases count every time they are used).</summary>
    public const int MaxNodes = 200_000;

    /// <summary>Deepest nesting accepted.</summary>
    public const int MaxDepth = 64;

    public static YamlReadResult Read(string text)
    {
        var documents = new List<YamlDocumentNode>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            return new YamlReadResult(documents, SyntaxError(e));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return new YamlReadResult(documents, Diagnostic.Error("", $"malformed YAML: {e.Message}"));
        }

        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var doc = stream.Documents[i];
            var map = new SourceMap();
            var converter = new Converter(map);
            try
            {
                var root = converter.Convert(doc.RootNode, 0);
                documents.Add(new YamlDocumentNode(i, root, map, Position(doc.RootNode.Start)));
            }
            catch (YamlLimitException e)
            {
                return new YamlReadResult(documents, Diagnostic.Error("", e.Message, e.Position));
            }
        }

        return new YamlReadResult(documents, null);
    }

    private static Diagnostic SyntaxError(YamlException e)
    {
        var position = Position(e.Start);
        var message = e.InnerException is { } inner && e.Message.Contains("See inner exception", StringComparison.Ordinal)
            ? inner.Message
            : e.Message;
        // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: ..) - (...): "; the position is reported separately.
        var cut = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith("(Line:", StringComparison.Ordinal) && cut > 0) message = message[(cut + 3)..];
        return Diagnostic.Error("", $"malformed YAML at {position}: {message}", position);
    }

    private static SourcePosition Position(Mark mark) => new((int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    private sealed class YamlLimitException(string message, SourcePosition position) : Exception(message)
    {
        public SourcePosition Position { get; } = position;
    }

    private sealed class Converter(SourceMap map)
    {
        private int _count;

        public JsonNode? Convert(YamlNode node, int depth)
        {
            if (++_count > MaxNodes)
                throw new YamlLimitException($"document expands to more than {MaxNodes} nodes (alias bomb?)", Position(node.Start));
            if (depth > MaxDepth)
                throw new YamlLimitException($"document nests deeper than {MaxDepth} levels", Position(node.Start));

            JsonNode? result = node switch
            {
                YamlScalarNode scalar => Scalar(scalar),
                YamlSequenceNode seq => Sequence(seq, depth),
                YamlMappingNode mapping => Mapping(mapping, depth),
                _ => null,
            };
            if (result is not null) map.SetNode(result, Position(node.Start));
            return result;
        }

        private JsonArray Sequence(YamlSequenceNode seq, int depth)
        {
            var array = new JsonArray();
            foreach (var child in seq.Children) array.Add(Convert(child, depth + 1));
            return array;
        }

        private JsonObject Mapping(YamlMappingNode mapping, int depth)
        {
            var obj = new JsonObject();
            foreach (var (keyNode, valueNode) in mapping.Children)
            {
                var key = keyNode is YamlScalarNode k ? k.Value ?? "" : keyNode.ToString();
                var value = Convert(valueNode, depth + 1);
                if (obj.ContainsKey(key))
                    throw new YamlLimitException($"duplicate key '{key}'", Position(keyNode.Start));
                obj[key] = value;
                map.SetKey(obj, key, Position(keyNode.Start));
            }
            return obj;
        }

        private static JsonNode? Scalar(YamlScalarNode scalar)
        {
            var value = scalar.Value ?? "";
            var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
            if (tag is "tag:yaml.org,2002:str") return JsonValue.Create(value);
            if (scalar.Style is not ScalarStyle.Plain && tag is null) return JsonValue.Create(value);
            return ResolvePlain(value);
        }
    }

    /// <summary>Resolves a plain scalar as YAML 1.1 (go-yaml v2, which Kubernetes uses) does.</summary>
    internal static JsonNode? ResolvePlain(string value)
    {
        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "y" or "Y" or "yes" or "Yes" or "YES" or "true" or "True" or "TRUE" or "on" or "On" or "ON":
                return JsonValue.Create(true);
            case "n" or "N" or "no" or "No" or "NO" or "false" or "False" or "FALSE" or "off" or "Off" or "OFF":
                return JsonValue.Create(false);
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF":
                return JsonValue.Create(double.PositiveInfinity);
            case "-.inf" or "-.Inf" or "-.INF":
                return JsonValue.Create(double.NegativeInfinity);
            case ".nan" or ".NaN" or ".NAN":
                return JsonValue.Create(double.NaN);
        }

        var plain = value.Replace("_", "", StringComparison.Ordinal);
        if (IntPattern().IsMatch(plain))
        {
            if (long.TryParse(plain, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
            if (double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var big)) return JsonValue.Create(big);
        }
        if (HexPattern().IsMatch(plain))
        {
            var negative = plain.StartsWith('-');
            var digits = plain.TrimStart('+', '-')[2..];
            if (long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h))
                return JsonValue.Create(negative ? -h : h);
        }
        if (FloatPattern().IsMatch(plain) &&
            double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return JsonValue.Create(d);
        return JsonValue.Create(value);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex("^[-+]?0x[0-9a-fA-F]+$")]
    private static partial Regex HexPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}

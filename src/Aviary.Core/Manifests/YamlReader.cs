using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aviary.Core.Validation;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Aviary.Core.Manifests;

/// <summary>One YAML document as a JSON tree, with the source position of every node.</summary>
public sealed record YamlDocumentNode(int Index, JsonNode? Root, SourceMap Positions, SourcePosition Start)
{
    /// <summary>Problems of the document's structure that did not stop the reader (duplicate keys, keys that are not strings).</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];
}

/// <summary>
/// The result of reading a YAML stream: its documents, and the syntax error that stopped the reader, if any
/// (the documents before it are kept).
/// </summary>
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
/// Reads YAML into JSON trees the way Kubernetes does (go-yaml v2's YAML 1.1 scalars: <c>yes</c>/<c>on</c> are
/// booleans, <c>0x1F</c> and <c>017</c> are integers, quoted scalars are always strings, <c>null</c> and <c>~</c>
/// are null; <c>&lt;&lt;</c> merge keys), with limits that keep hostile input cheap: the reader works on the
/// parser's event stream without recursion beyond <see cref="MaxDepth"/>, and counts every node an alias
/// expands to against <see cref="MaxNodes"/>.
/// </summary>
public static partial class YamlReader
{
    /// <summary>Most nodes one document may expand to (aliases count every time they are used).</summary>
    public const int MaxNodes = 200_000;

    /// <summary>Deepest nesting accepted.</summary>
    public const int MaxDepth = 64;

    public static YamlReadResult Read(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var documents = new List<YamlDocumentNode>();
        if (FindForbiddenCharacter(text) is { } bad)
            return new YamlReadResult(documents, Diagnostic.Error("", $"malformed YAML at {bad.Position}: {bad.Message}", bad.Position));

        // A byte order mark is an encoding detail, not content (YamlDotNet would make it part of the first key).
        if (text.StartsWith('\ufeff')) text = text[1..];
        var parser = new GuardedParser(new Parser(new Scanner(new StringReader(text), skipComments: true)));
        var budget = new AliasBudget();
        try
        {
            parser.Consume<StreamStart>();
            while (!parser.TryConsume<StreamEnd>(out _))
            {
                parser.Consume<DocumentStart>();
                var builder = new DocumentBuilder(parser, budget);
                var start = Position(parser.Current?.Start ?? Mark.Empty);
                var root = builder.ReadNode(0, "", out _);
                parser.Consume<DocumentEnd>();
                documents.Add(new YamlDocumentNode(documents.Count, root, builder.Map, start) { Diagnostics = builder.Diagnostics });
            }
        }
        catch (YamlException e)
        {
            return new YamlReadResult(documents, SyntaxError(e));
        }
        catch (YamlLimitException e)
        {
            return new YamlReadResult(documents, Diagnostic.Error("", $"malformed YAML at {e.Position}: {e.Message}", e.Position));
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

    private static SourcePosition Position(Mark mark) =>
        new((int)Math.Clamp(mark.Line, 1, int.MaxValue), (int)Math.Clamp(mark.Column, 1, int.MaxValue));

    /// <summary>
    /// YAML allows only printable characters (tab, line breaks, and no C0/C1 control characters, unpaired
    /// surrogates, U+FFFE or U+FFFF). YamlDotNet silently stops at a NUL, which would hide the rest of a file.
    /// </summary>
    private static (SourcePosition Position, string Message)? FindForbiddenCharacter(string text)
    {
        var line = 1;
        var column = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var ok = c switch
            {
                '\t' or '\n' or '\r' or '\u0085' => true,
                < ' ' => false,
                >= '\u007f' and < '\u00a0' => false,
                '\ufffe' or '\uffff' => false,
                _ when char.IsHighSurrogate(c) => i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]),
                _ when char.IsLowSurrogate(c) => i > 0 && char.IsHighSurrogate(text[i - 1]),
                _ => true,
            };
            if (!ok)
            {
                var position = new SourcePosition(line, column);
                return (position, $"control character U+{(int)c:X4} is not allowed (is this a binary file?)");
            }
            if (c == '\n') { line++; column = 1; }
            else if (!char.IsLowSurrogate(c)) column++;
        }
        return null;
    }

    /// <summary>
    /// YamlDotNet's scanner fails on some malformed input with exceptions other than <see cref="YamlException"/>
    /// (an <see cref="InvalidOperationException"/> for <c>b: [1, 2</c> followed by another key, say): those become
    /// syntax errors at the last position the parser reached.
    /// </summary>
    private sealed class GuardedParser(IParser inner) : IParser
    {
        private Mark _last = Mark.Empty;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            try
            {
                var moved = inner.MoveNext();
                if (inner.Current is { } current) _last = current.End;
                return moved;
            }
            catch (Exception e) when (e is not YamlException and not OutOfMemoryException)
            {
                throw new SyntaxErrorException(_last, _last, "the YAML parser cannot continue after this point (an unclosed '[', '{' or quote?)");
            }
        }
    }

    private sealed class YamlLimitException(string message, SourcePosition position) : Exception(message)
    {
        public SourcePosition Position { get; } = position;
    }

    /// <summary>An anchored node: its tree, how many nodes it expands to, and how deep it nests.</summary>
    private sealed record Anchored(JsonNode? Node, int Size, int Height);

    /// <summary>
    /// Nodes copied for aliases in the whole stream: anchors are per document, so without a stream-wide budget a
    /// file of many small alias bombs, each under <see cref="MaxNodes"/>, would still take minutes.
    /// </summary>
    private sealed class AliasBudget
    {
        public int Copied { get; set; }
    }

    /// <summary>Builds one document from the parser's events. Recursion is bounded by <see cref="MaxDepth"/>.</summary>
    private sealed class DocumentBuilder(IParser parser, AliasBudget budget)
    {
        private readonly Dictionary<string, Anchored> _anchors = new(StringComparer.Ordinal);
        private readonly List<Diagnostic> _diagnostics = [];
        private int _count;

        public SourceMap Map { get; } = new();

        public IReadOnlyList<Diagnostic> Diagnostics => _diagnostics;

        /// <summary>Reads the node at the parser's current event; <paramref name="height"/> is how many levels it nests.</summary>
        public JsonNode? ReadNode(int depth, string path, out int height)
        {
            var current = parser.Current ?? throw new YamlLimitException("unexpected end of the YAML stream", new SourcePosition(1, 1));
            var position = Position(current.Start);
            if (depth > MaxDepth)
                throw new YamlLimitException($"document nests deeper than {MaxDepth} levels", position);
            if (++_count > MaxNodes)
                throw new YamlLimitException($"document expands to more than {MaxNodes} nodes (alias bomb?)", position);
            var countBefore = _count;

            JsonNode? result;
            string? anchor = null;
            switch (current)
            {
                case AnchorAlias alias:
                    parser.MoveNext();
                    return Expand(alias, depth, position, out height);
                case Scalar scalar:
                    parser.MoveNext();
                    anchor = AnchorOf(scalar);
                    result = ResolveScalar(scalar);
                    height = 0;
                    break;
                case SequenceStart seq:
                    parser.MoveNext();
                    anchor = AnchorOf(seq);
                    result = ReadSequence(depth, path, out height);
                    break;
                case MappingStart map:
                    parser.MoveNext();
                    anchor = AnchorOf(map);
                    result = ReadMapping(depth, path, out height);
                    break;
                default:
                    throw new YamlLimitException($"unexpected {current.GetType().Name} in the YAML stream", position);
            }

            if (result is not null) Map.SetNode(result, position);
            // An anchor is usable once its node is complete, so an alias can never refer to an enclosing node.
            if (anchor is not null) _anchors[anchor] = new Anchored(result, _count - countBefore + 1, height);
            return result;
        }

        private static string? AnchorOf(NodeEvent e) => e.Anchor.IsEmpty ? null : e.Anchor.Value;

        private JsonNode? Expand(AnchorAlias alias, int depth, SourcePosition position, out int height)
        {
            if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
                throw new YamlLimitException($"unknown anchor '{alias.Value.Value}' referenced", position);
            height = anchored.Height;
            // The alias itself was counted once already.
            _count += anchored.Size - 1;
            budget.Copied += anchored.Size;
            if (_count > MaxNodes || budget.Copied > MaxNodes)
                throw new YamlLimitException($"document expands to more than {MaxNodes} nodes (alias bomb?)", position);
            if (depth + anchored.Height > MaxDepth)
                throw new YamlLimitException($"document nests deeper than {MaxDepth} levels", position);
            var copy = anchored.Node?.DeepClone();
            if (copy is not null) Map.SetNode(copy, position);
            return copy;
        }

        private JsonArray ReadSequence(int depth, string path, out int height)
        {
            var array = new JsonArray();
            height = 1;
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                array.Add(ReadNode(depth + 1, FieldPath.Index(path, array.Count), out var h));
                height = Math.Max(height, h + 1);
            }
            return array;
        }

        private JsonObject ReadMapping(int depth, string path, out int height)
        {
            var obj = new JsonObject();
            height = 1;
            List<(JsonNode? Value, SourcePosition Position)>? merges = null;
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyEvent = parser.Current!;
                var keyPosition = Position(keyEvent.Start);
                var key = ReadKey(depth, path, out var isMerge);
                var childPath = key is null ? path : FieldPath.Property(path, key);
                var value = ReadNode(depth + 1, childPath, out var h);
                height = Math.Max(height, h + 1);

                if (isMerge)
                {
                    (merges ??= []).Add((value, keyPosition));
                    continue;
                }
                if (key is null) continue;
                if (obj.ContainsKey(key))
                {
                    var first = Map.OfKey(obj, key);
                    _diagnostics.Add(Diagnostic.Error(childPath,
                        first is { } f ? $"duplicate key (first set at line {f.Line}, column {f.Column})" : "duplicate key", keyPosition));
                    continue;
                }
                obj[key] = value;
                Map.SetKey(obj, key, keyPosition);
            }
            if (merges is not null) Merge(obj, merges, path);
            return obj;
        }

        /// <summary>Reads a mapping key; null (after reporting it) when the key is not a scalar.</summary>
        private string? ReadKey(int depth, string path, out bool isMerge)
        {
            isMerge = false;
            var keyEvent = parser.Current!;
            var position = Position(keyEvent.Start);
            if (keyEvent is Scalar s)
            {
                parser.MoveNext();
                if (++_count > MaxNodes)
                    throw new YamlLimitException($"document expands to more than {MaxNodes} nodes (alias bomb?)", position);
                var resolved = ResolveScalar(s);
                if (AnchorOf(s) is { } anchor) _anchors[anchor] = new Anchored(resolved, 1, 0);
                if (resolved is null)
                {
                    // Kubernetes cannot turn a null key into JSON.
                    _diagnostics.Add(Diagnostic.Error(path, "mapping keys must be strings (got null)", position));
                    return null;
                }
                isMerge = s.Value == "<<" && s.Style == ScalarStyle.Plain && s.Tag.IsEmpty;
                return s.Value;
            }

            var key = ReadNode(depth + 1, path, out _);
            if (key is JsonValue v && v.TryGetValue<string>(out var text)) return text;
            if (key is JsonValue other) return SchemaValidator.Describe(other);
            _diagnostics.Add(Diagnostic.Error(path,
                $"mapping keys must be strings (got {(key is null ? "null" : SchemaValidator.Describe(key))})", position));
            return null;
        }

        /// <summary>YAML 1.1 merge keys: keys of the merged mappings that the mapping does not set itself.</summary>
        private void Merge(JsonObject obj, List<(JsonNode? Value, SourcePosition Position)> merges, string path)
        {
            foreach (var (value, position) in merges)
            {
                var sources = value switch
                {
                    JsonObject single => [single],
                    JsonArray list when list.All(x => x is JsonObject) => list.Cast<JsonObject>().ToList(),
                    _ => null,
                };
                if (sources is null)
                {
                    _diagnostics.Add(Diagnostic.Error(FieldPath.Property(path, "<<"),
                        "a merge key needs a mapping or a list of mappings", position));
                    continue;
                }
                foreach (var source in sources)
                {
                    foreach (var (k, v) in source.ToList())
                    {
                        if (obj.ContainsKey(k)) continue;
                        source.Remove(k);
                        obj[k] = v;
                        Map.SetKey(obj, k, Map.OfKey(source, k) ?? position);
                    }
                }
            }
        }
    }

    private static JsonNode? ResolveScalar(Scalar scalar)
    {
        var value = scalar.Value ?? "";
        var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
        return tag switch
        {
            "tag:yaml.org,2002:str" or "tag:yaml.org,2002:binary" or "!" => JsonValue.Create(value),
            "tag:yaml.org,2002:null" => null,
            "tag:yaml.org,2002:bool" or "tag:yaml.org,2002:int" or "tag:yaml.org,2002:float" => ResolvePlain(value),
            _ when scalar.Style is not ScalarStyle.Plain => JsonValue.Create(value),
            _ => ResolvePlain(value),
        };
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

        var first = value[0];
        if (first == '.')
        {
            // go-yaml: strconv.ParseFloat on the text as written (".5").
            return FloatPattern().IsMatch(value) && TryParseFiniteDouble(value, out var f) ? JsonValue.Create(f) : JsonValue.Create(value);
        }
        if (first is not ('+' or '-') && !char.IsAsciiDigit(first)) return JsonValue.Create(value);

        var plain = value.Replace("_", "", StringComparison.Ordinal);
        switch (ParseGoInteger(plain, out var signed, out var unsigned))
        {
            case IntegerKind.Signed: return JsonValue.Create(signed);
            case IntegerKind.Unsigned: return JsonValue.Create(unsigned);
        }
        if (FloatPattern().IsMatch(plain) && TryParseFiniteDouble(plain, out var d)) return JsonValue.Create(d);
        return JsonValue.Create(value);
    }

    /// <summary>Go's <c>strconv.ParseFloat</c> fails on overflow (<c>1e400</c>), which go-yaml then reads as a string.</summary>
    private static bool TryParseFiniteDouble(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private enum IntegerKind { None, Signed, Unsigned }

    /// <summary>
    /// Go's <c>strconv.ParseInt(s, 0, 64)</c>, then <c>ParseUint(s, 0, 64)</c>: an optional sign, then
    /// <c>0x</c> (hex), <c>0o</c> or a leading <c>0</c> (octal), <c>0b</c> (binary) or decimal digits.
    /// </summary>
    private static IntegerKind ParseGoInteger(string s, out long signed, out ulong unsigned)
    {
        signed = 0;
        unsigned = 0;
        var i = 0;
        var negative = false;
        var hasSign = false;
        if (s.Length > 0 && s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            hasSign = true;
            i = 1;
        }
        var radix = 10;
        if (s.Length - i >= 2 && s[i] == '0' && s[i + 1] is 'x' or 'X') { radix = 16; i += 2; }
        else if (s.Length - i >= 2 && s[i] == '0' && s[i + 1] is 'o' or 'O') { radix = 8; i += 2; }
        else if (s.Length - i >= 2 && s[i] == '0' && s[i + 1] is 'b' or 'B') { radix = 2; i += 2; }
        else if (s.Length - i >= 2 && s[i] == '0') { radix = 8; i += 1; }
        if (i >= s.Length) return IntegerKind.None;

        UInt128 magnitude = 0;
        for (; i < s.Length; i++)
        {
            var digit = s[i] switch
            {
                >= '0' and <= '9' => s[i] - '0',
                >= 'a' and <= 'f' => s[i] - 'a' + 10,
                >= 'A' and <= 'F' => s[i] - 'A' + 10,
                _ => int.MaxValue,
            };
            if (digit >= radix) return IntegerKind.None;
            magnitude = magnitude * (uint)radix + (uint)digit;
            if (magnitude > ulong.MaxValue) return IntegerKind.None;
        }

        if (!negative && magnitude <= long.MaxValue)
        {
            signed = (long)magnitude;
            return IntegerKind.Signed;
        }
        if (negative && magnitude <= (UInt128)long.MaxValue + 1)
        {
            signed = magnitude == (UInt128)long.MaxValue + 1 ? long.MinValue : -(long)magnitude;
            return IntegerKind.Signed;
        }
        if (!hasSign)
        {
            unsigned = (ulong)magnitude;
            return IntegerKind.Unsigned;
        }
        return IntegerKind.None;
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}

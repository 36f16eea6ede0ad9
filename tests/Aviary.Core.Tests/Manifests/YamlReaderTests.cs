using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;

namespace Aviary.Core.Tests.Manifests;

public sealed class YamlReaderTests
{
    private static JsonNode? Value(string scalar)
    {
        var result = YamlReader.Read($"v: {scalar}\n");
        Assert.Null(result.SyntaxError);
        return Assert.Single(result.Documents).Root!["v"];
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("Yes")]
    [InlineData("YES")]
    [InlineData("on")]
    [InlineData("On")]
    [InlineData("y")]
    [InlineData("true")]
    [InlineData("True")]
    public void Read_Yaml11TrueWords_AreTrue(string scalar) => Assert.True(Value(scalar)!.GetValue<bool>());

    [Theory]
    [InlineData("no")]
    [InlineData("off")]
    [InlineData("OFF")]
    [InlineData("n")]
    [InlineData("false")]
    public void Read_Yaml11FalseWords_AreFalse(string scalar) => Assert.False(Value(scalar)!.GetValue<bool>());

    [Theory]
    [InlineData("~")]
    [InlineData("null")]
    [InlineData("Null")]
    [InlineData("NULL")]
    [InlineData("")]
    [InlineData("!!null whatever")]
    public void Read_NullWords_AreNull(string scalar) => Assert.Null(Value(scalar));

    [Theory]
    [InlineData("\"yes\"", "yes")]
    [InlineData("'on'", "on")]
    [InlineData("\"123\"", "123")]
    [InlineData("'~'", "~")]
    [InlineData("\"null\"", "null")]
    [InlineData("!!str 12", "12")]
    [InlineData("!!str yes", "yes")]
    [InlineData("yess", "yes" + "s")]
    [InlineData("1e400", "1e400")]
    [InlineData("0x", "0x")]
    [InlineData("0xFFFFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFF")]
    [InlineData("2024-01-02", "2024-01-02")]
    [InlineData("1.2.3", "1.2.3")]
    [InlineData("+", "+")]
    [InlineData(".", ".")]
    [InlineData("日本語", "日本語")]
    public void Read_QuotedOrNonNumericScalar_StaysString(string scalar, string expected)
    {
        var node = Value(scalar);
        Assert.Equal(JsonValueKind.String, node!.GetValueKind());
        Assert.Equal(expected, node.GetValue<string>());
    }

    [Theory]
    [InlineData("0x1F", 31)]
    [InlineData("-0x1F", -31)]
    [InlineData("0o17", 15)]
    [InlineData("017", 15)]
    [InlineData("0b101", 5)]
    [InlineData("-0b101", -5)]
    [InlineData("1_000", 1000)]
    [InlineData("+12", 12)]
    [InlineData("0", 0)]
    [InlineData("-0", 0)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void Read_IntegerScalar_IsInteger(string scalar, long expected)
    {
        var node = Value(scalar);
        Assert.Equal(JsonValueKind.Number, node!.GetValueKind());
        Assert.Equal(expected, node.GetValue<long>());
    }

    [Theory]
    [InlineData("1e3", 1000.0)]
    [InlineData("1.5", 1.5)]
    [InlineData(".5", 0.5)]
    [InlineData("-.5", -0.5)]
    [InlineData("+1.5e-3", 0.0015)]
    [InlineData("08", 8.0)]
    [InlineData("1_000.5", 1000.5)]
    [InlineData("18446744073709551616", 18446744073709551616.0)]
    public void Read_FloatScalar_IsDouble(string scalar, double expected)
    {
        var node = Value(scalar);
        Assert.Equal(JsonValueKind.Number, node!.GetValueKind());
        Assert.Equal(expected, node.GetValue<double>());
    }

    [Fact]
    public void Read_Uint64Scalar_IsNumber()
    {
        var node = Value("18446744073709551615");
        Assert.Equal(ulong.MaxValue, node!.GetValue<ulong>());
    }

    [Theory]
    [InlineData(".inf", double.PositiveInfinity)]
    [InlineData("-.Inf", double.NegativeInfinity)]
    [InlineData(".NaN", double.NaN)]
    public void Read_SpecialFloats_AreDoubles(string scalar, double expected) =>
        Assert.Equal(expected, Value(scalar)!.GetValue<double>());

    [Fact]
    public void Read_MalformedYaml_ReportsLineAndColumn()
    {
        var result = YamlReader.Read("a: 1\nb: 2\n  c: 3\n");
        Assert.NotNull(result.SyntaxError);
        Assert.NotNull(result.SyntaxError.Position);
        Assert.StartsWith($"malformed YAML at line {result.SyntaxError.Position.Value.Line}, column {result.SyntaxError.Position.Value.Column}: ",
            result.SyntaxError.Message, StringComparison.Ordinal);
        Assert.Equal(3, result.SyntaxError.Position.Value.Line);
    }

    [Fact]
    public void Read_TabIndentation_ReportsPosition()
    {
        var result = YamlReader.Read("a:\n  b: 1\n\tc: 2\n");
        Assert.NotNull(result.SyntaxError);
        Assert.Contains("tab", result.SyntaxError.Message, StringComparison.Ordinal);
        Assert.InRange(result.SyntaxError.Position!.Value.Line, 2, 3);
    }

    [Fact]
    public void Read_SyntaxErrorInLaterDocument_KeepsEarlierDocuments()
    {
        var result = YamlReader.Read("a: 1\n---\nb: 2\n---\nc: [\n");
        Assert.Equal(2, result.Documents.Count);
        Assert.NotNull(result.SyntaxError);
        Assert.InRange(result.SyntaxError.Position!.Value.Line, 5, 6);
    }

    [Theory]
    [InlineData("a: \0b\n", 1, 4, "U+0000")]
    [InlineData("a: 1\nb: x\u0007y\n", 2, 5, "U+0007")]
    [InlineData("a: ok\u0090\n", 1, 6, "U+0090")]
    [InlineData("a: \u007f\n", 1, 4, "U+007F")]
    public void Read_ControlCharacter_IsSyntaxErrorWithPosition(string text, int line, int column, string character)
    {
        var result = YamlReader.Read(text);
        Assert.NotNull(result.SyntaxError);
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(line, column), result.SyntaxError.Position);
        Assert.Contains(character, result.SyntaxError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnpairedSurrogateOrNonCharacter_IsSyntaxError()
    {
        // Built in code: attribute arguments cannot hold unpaired surrogates.
        var lone = YamlReader.Read("a: \U0001F600" + '\ud800' + "\n");
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(1, 5), lone.SyntaxError!.Position);
        Assert.Contains("U+D800", lone.SyntaxError.Message, StringComparison.Ordinal);
        var low = YamlReader.Read("a: " + '\udc00');
        Assert.Contains("U+DC00", low.SyntaxError!.Message, StringComparison.Ordinal);
        var nonCharacter = YamlReader.Read("a: " + '\uffff');
        Assert.Contains("U+FFFF", nonCharacter.SyntaxError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnclosedFlowSequenceBeforeNextKey_IsSyntaxErrorNotCrash()
    {
        // YamlDotNet's scanner throws InvalidOperationException here.
        var result = YamlReader.Read("a: 1\nb: [1, 2\nc: 3\n");
        Assert.NotNull(result.SyntaxError);
        Assert.Equal(2, result.SyntaxError.Position!.Value.Line);
        Assert.StartsWith("malformed YAML at line 2, column ", result.SyntaxError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ByteOrderMark_IsIgnored()
    {
        var result = YamlReader.Read("\ufeffa: 1\n");
        Assert.Null(result.SyntaxError);
        Assert.Equal(1, Assert.Single(result.Documents).Root!["a"]!.GetValue<long>());
    }

    [Fact]
    public void Read_DuplicateKey_ReportsPathAndKeepsReading()
    {
        var result = YamlReader.Read("spec:\n  a: 1\n  b: 2\n  a: 3\nother: x\n");
        Assert.Null(result.SyntaxError);
        var doc = Assert.Single(result.Documents);
        var d = Assert.Single(doc.Diagnostics);
        Assert.True(d.IsError);
        Assert.Equal("spec.a: duplicate key (first set at line 2, column 3)", d.ToString());
        Assert.Equal(4, d.Position!.Value.Line);
        Assert.Equal(1, doc.Root!["spec"]!["a"]!.GetValue<long>());
        Assert.Equal("x", doc.Root!["other"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("? [a, b]\n: c\nd: e\n", "a list")]
    [InlineData("? {a: b}\n: c\nd: e\n", "an object")]
    [InlineData("? ~\n: c\nd: e\n", "null")]
    public void Read_KeyThatIsNotAString_IsReportedAndSkipped(string yaml, string got)
    {
        var result = YamlReader.Read(yaml);
        Assert.Null(result.SyntaxError);
        var doc = Assert.Single(result.Documents);
        var d = Assert.Single(doc.Diagnostics);
        Assert.Equal($"mapping keys must be strings (got {got})", d.Message);
        Assert.Equal("e", doc.Root!["d"]!.GetValue<string>());
    }

    [Fact]
    public void Read_ScalarKeys_AreTheirText()
    {
        var root = Assert.Single(YamlReader.Read("1: a\ntrue: b\n\"x\": c\n").Documents).Root!.AsObject();
        Assert.Equal(["1", "true", "x"], root.Select(p => p.Key));
    }

    [Fact]
    public void Read_Anchors_AreCopiedWhereAliased()
    {
        var root = Assert.Single(YamlReader.Read("base: &b {x: 1, y: [1, 2]}\nuse: *b\n").Documents).Root!;
        Assert.True(JsonNode.DeepEquals(root["base"], root["use"]));
        Assert.NotSame(root["base"], root["use"]);
    }

    [Fact]
    public void Read_MergeKey_AddsKeysTheMappingDoesNotSet()
    {
        var yaml = "base: &b {x: 1, y: 2}\nextra: &e {z: 3}\nuse:\n  y: 20\n  <<: [*b, *e]\n";
        var use = Assert.Single(YamlReader.Read(yaml).Documents).Root!["use"]!;
        Assert.Equal(1, use["x"]!.GetValue<long>());
        Assert.Equal(20, use["y"]!.GetValue<long>());
        Assert.Equal(3, use["z"]!.GetValue<long>());
    }

    [Fact]
    public void Read_MergeKeyOfScalar_IsReported()
    {
        var doc = Assert.Single(YamlReader.Read("use:\n  <<: 1\n").Documents);
        Assert.Equal("use[\"<<\"]: a merge key needs a mapping or a list of mappings", Assert.Single(doc.Diagnostics).ToString());
    }

    [Fact]
    public void Read_QuotedMergeKey_IsAnOrdinaryKey()
    {
        var root = Assert.Single(YamlReader.Read("\"<<\": 1\n").Documents).Root!;
        Assert.Equal(1, root["<<"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("a: *nope\n")]
    [InlineData("a: &x [1, *x]\n")]
    public void Read_UnknownOrRecursiveAlias_IsSyntaxError(string yaml)
    {
        var result = YamlReader.Read(yaml);
        Assert.NotNull(result.SyntaxError);
        Assert.Contains("unknown anchor", result.SyntaxError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_BillionLaughs_StopsWithError()
    {
        var yaml = new StringBuilder("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var c = 'b'; c <= 'j'; c++)
            yaml.Append(c).Append(": &").Append(c).Append(" [").Append(string.Join(",", Enumerable.Repeat($"*{(char)(c - 1)}", 9))).Append("]\n");
        var result = YamlReader.Read(yaml.ToString());
        Assert.NotNull(result.SyntaxError);
        Assert.Contains("alias bomb", result.SyntaxError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MergeKeyBomb_StopsWithError()
    {
        var yaml = new StringBuilder("a0: &a0 {k: v}\n");
        for (var i = 1; i <= 40; i++) yaml.Append($"a{i}: &a{i} {{x: *a{i - 1}, y: *a{i - 1}}}\n");
        var result = YamlReader.Read(yaml.ToString());
        Assert.Contains("alias bomb", result.SyntaxError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ManySmallAliasBombs_StopWithError()
    {
        // Each document stays under MaxNodes; together they would copy 200 times as much.
        var one = new StringBuilder("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (var c = 'b'; c <= 'e'; c++) one.Append($"{c}: &{c} [{string.Join(",", Enumerable.Repeat($"*{(char)(c - 1)}", 10))}]\n");
        var yaml = string.Join("---\n", Enumerable.Repeat(one.ToString(), 200));
        var result = YamlReader.Read(yaml);
        Assert.Contains("alias bomb", result.SyntaxError!.Message, StringComparison.Ordinal);
        Assert.InRange(result.Documents.Count, 1, 10);
    }

    [Fact]
    public void Read_ModestAliasUse_IsAccepted()
    {
        var yaml = string.Join("---\n", Enumerable.Repeat("base: &b {x: 1, y: [1, 2, 3]}\nuse: [*b, *b, *b]\n", 500));
        var result = YamlReader.Read(yaml);
        Assert.Null(result.SyntaxError);
        Assert.Equal(500, result.Documents.Count);
    }

    [Theory]
    [InlineData(100_000, "[", "]")]
    [InlineData(100_000, "{a: ", "}")]
    [InlineData(YamlReader.MaxDepth + 2, "[", "]")]
    public void Read_DeepNesting_StopsWithError(int depth, string open, string close)
    {
        var yaml = string.Concat(Enumerable.Repeat(open, depth)) + string.Concat(Enumerable.Repeat(close, depth));
        var result = YamlReader.Read(yaml);
        Assert.NotNull(result.SyntaxError);
        Assert.Contains($"nests deeper than {YamlReader.MaxDepth} levels", result.SyntaxError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_DeepBlockNesting_StopsWithError()
    {
        var yaml = new StringBuilder();
        for (var i = 0; i < 200; i++) yaml.Append(new string(' ', i)).Append("a:\n");
        var result = YamlReader.Read(yaml.ToString());
        Assert.Contains("nests deeper", result.SyntaxError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NestingAtTheLimit_IsAccepted()
    {
        var yaml = new string('[', YamlReader.MaxDepth + 1) + new string(']', YamlReader.MaxDepth + 1);
        Assert.Null(YamlReader.Read(yaml).SyntaxError);
    }

    [Fact]
    public void Read_AliasThatWouldNestTooDeep_IsRejected()
    {
        var inner = new string('[', 40) + new string(']', 40);
        var yaml = $"a: &x {inner}\nb: {new string('[', 30)}*x{new string(']', 30)}\n";
        Assert.Contains("nests deeper", YamlReader.Read(yaml).SyntaxError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MultipleDocuments_AreIndexedWithStartLines()
    {
        var result = YamlReader.Read("a: 1\n---\n---\nb: 2\n...\n");
        Assert.Equal(3, result.Documents.Count);
        Assert.Null(result.Documents[1].Root);
        Assert.Equal(2, result.Documents[2].Index);
        Assert.Equal(4, result.Documents[2].Start.Line);
    }

    [Fact]
    public void Read_EmptyText_HasNoDocuments()
    {
        var result = YamlReader.Read("");
        Assert.Empty(result.Documents);
        Assert.Null(result.SyntaxError);
    }

    [Fact]
    public void Read_Positions_PointAtNodesAndKeys()
    {
        var doc = Assert.Single(YamlReader.Read("a:\n  bb: [1, 2]\n").Documents);
        var a = doc.Root!["a"]!.AsObject();
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(2, 3), doc.Positions.OfKey(a, "bb"));
        Assert.Equal(new Aviary.Core.Validation.SourcePosition(2, 7), doc.Positions.Of(a["bb"]));
    }

    [Fact]
    public void Read_Json_IsReadAsYaml()
    {
        var root = Assert.Single(YamlReader.Read("{\"a\": {\"b\": [1, \"2\", true, null]}}").Documents).Root!;
        Assert.Equal("[1,\"2\",true,null]", root["a"]!["b"]!.ToJsonString());
    }
}

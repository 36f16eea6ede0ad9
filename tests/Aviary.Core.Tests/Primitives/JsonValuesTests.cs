using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Manifests;
using Aviary.Core.Primitives;

namespace Aviary.Core.Tests.Primitives;

public sealed class JsonValuesTests
{
    public static TheoryData<JsonNode, double> Numbers() => new()
    {
        { JsonValue.Create(3), 3 },
        { JsonValue.Create(3L), 3 },
        { JsonValue.Create(ulong.MaxValue), 18446744073709551615.0 },
        { JsonValue.Create(2.5), 2.5 },
        { JsonNode.Parse("7.25")!, 7.25 },
        { JsonValue.Create(double.NaN), double.NaN },
    };

    [Theory]
    [MemberData(nameof(Numbers))]
    public void TryGetNumber_AnyBackingType_ReadsTheNumber(JsonNode node, double expected)
    {
        Assert.True(node.TryGetNumber(out var value));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void TryGetNumber_NotANumber_ReturnsFalse()
    {
        Assert.False(JsonValue.Create("3").TryGetNumber(out _));
        Assert.False(((JsonNode?)null).TryGetNumber(out _));
        Assert.False(new JsonArray().TryGetNumber(out _));
        Assert.False(JsonValue.Create(true).TryGetNumber(out _));
    }

    [Fact]
    public void TryGetString_OnlyForStrings()
    {
        Assert.True(JsonValue.Create("a").TryGetString(out var s));
        Assert.Equal("a", s);
        Assert.False(JsonValue.Create(1).TryGetString(out _));
        Assert.False(((JsonNode?)null).TryGetString(out _));
    }

    [Theory]
    [InlineData("8080", true)]
    [InlineData("\"http\"", false)]
    public void IntOrString_RoundTrips(string json, bool isInt)
    {
        var value = JsonSerializer.Deserialize<IntOrString>(json, ModelJson.Options);
        Assert.Equal(isInt, value.IsInt);
        Assert.Equal(json, JsonSerializer.Serialize(value, ModelJson.Options));
    }

    [Fact]
    public void IntOrString_OtherToken_IsJsonException() =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<IntOrString>("[1]", ModelJson.Options));
}

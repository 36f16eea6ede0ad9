using Aviary.Core.Validation;

namespace Aviary.Core.Tests.Validation;

public sealed class SuggestionsTests
{
    [Theory]
    [InlineData("", "", 0)]
    [InlineData("abc", "", 3)]
    [InlineData("", "abc", 3)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("stepweight", "stepWeight", 1)]
    [InlineData("ab", "ba", 1)]
    [InlineData("intreval", "interval", 1)]
    [InlineData("ca", "abc", 3)]
    public void Distance_Pairs_IsOptimalStringAlignment(string a, string b, int expected)
    {
        Assert.Equal(expected, Suggestions.Distance(a, b));
        Assert.Equal(expected, Suggestions.Distance(b, a));
    }

    [Fact]
    public void Distance_LongerThan256_IsMaxValue() => Assert.Equal(int.MaxValue, Suggestions.Distance(new string('a', 257), "a"));

    [Theory]
    [InlineData("stepweight", "stepWeight")]
    [InlineData("StepWeight", "stepWeight")]
    [InlineData("treshold", "threshold")]
    [InlineData("maxweight", "maxWeight")]
    [InlineData("stepWeigths", "stepWeights")]
    public void Closest_Typo_SuggestsTheField(string input, string expected) =>
        Assert.Equal(expected, Suggestions.Closest(input, ["stepWeight", "stepWeights", "threshold", "maxWeight", "interval"]));

    [Theory]
    [InlineData("flavour")]
    [InlineData("x")]
    [InlineData("")]
    public void Closest_NothingClose_ReturnsNull(string input) =>
        Assert.Null(Suggestions.Closest(input, ["stepWeight", "threshold", "interval"]));

    [Fact]
    public void Closest_VeryLongInput_ReturnsNull() =>
        Assert.Null(Suggestions.Closest(new string('x', 100_000), ["stepWeight"]));
}

using Aviary.Metrics.Prometheus;

namespace Aviary.Metrics.Tests.Prometheus;

public sealed class PromQlTests
{
    [Theory]
    [InlineData("  up  ", "up")]
    [InlineData("\n\tsum(\n\t\trate(x[1m])\n\t)\n\t/\n\t2\n", "sum( rate(x[1m]) ) / 2")]
    [InlineData("a{l=\"two  spaces\"}", "a{l=\"two  spaces\"}")]
    [InlineData("a{l='x\\'  y'} or b", "a{l='x\\'  y'} or b")]
    [InlineData("a{l=`raw\\   x`}   or b", "a{l=`raw\\   x`} or b")]
    [InlineData("sum(x) # the total\n/ 2", "sum(x) / 2")]
    [InlineData("a{l=\"#not a comment\"}", "a{l=\"#not a comment\"}")]
    [InlineData("", "")]
    public void Normalize_JoinsLinesOutsideStringsAndDropsComments(string query, string expected) =>
        Assert.Equal(expected, PromQl.Normalize(query));
}

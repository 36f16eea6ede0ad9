using Aviary.Hooks.LoadTester;

namespace Aviary.Hooks.Tests.LoadTester;

public sealed class CommandWordsTests
{
    [Theory]
    [InlineData("hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/", new[] { "hey", "-z", "1m", "-q", "10", "-c", "2", "http://podinfo-canary.test:9898/" })]
    [InlineData("curl -sd 'test body' http://x/token", new[] { "curl", "-sd", "test body", "http://x/token" })]
    [InlineData("curl -H \"X-A: \\\"b\\\"\" a\\ b", new[] { "curl", "-H", "X-A: \"b\"", "a b" })]
    [InlineData("  curl   'http://x/?a=1&b=2'  ", new[] { "curl", "http://x/?a=1&b=2" })]
    [InlineData("curl http://x/#frag ''", new[] { "curl", "http://x/#frag", "" })]
    public void TrySplit_ShellQuoting_Words(string command, string[] expected)
    {
        Assert.True(CommandWords.TrySplit(command, out var words, out var error), error);
        Assert.Equal(expected, words);
    }

    [Theory]
    [InlineData("curl x | sh", "shell syntax '|'")]
    [InlineData("curl x && rm -rf /", "shell syntax '&'")]
    [InlineData("curl x; id", "shell syntax ';'")]
    [InlineData("curl x > /etc/passwd", "shell syntax '>'")]
    [InlineData("curl $HOME", "shell syntax '$'")]
    [InlineData("curl \"$HOME\"", "shell syntax '$'")]
    [InlineData("curl `id`", "shell syntax '`'")]
    [InlineData("curl x # comment", "shell syntax '#'")]
    [InlineData("curl 'x", "unterminated ' quote")]
    [InlineData("curl \"x", "unterminated \" quote")]
    [InlineData("   ", "the command is empty")]
    public void TrySplit_ShellOnlySyntax_Refused(string command, string error)
    {
        Assert.False(CommandWords.TrySplit(command, out _, out var message));
        Assert.StartsWith(error, message, StringComparison.Ordinal);
    }
}

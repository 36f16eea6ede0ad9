using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Aviary.Hooks.LoadTester;

/// <summary>
/// Splits a command line into words as a POSIX shell would — blanks separate words, <c>'single'</c> quotes keep
/// everything, <c>"double"</c> quotes keep everything but <c>\"</c>, <c>\\</c>, <c>\$</c> and <c>\`</c>, a backslash
/// outside quotes keeps the next character — without being a shell: whatever only a shell could do (pipes, lists,
/// redirections, substitutions, variables, subshells, comments) is refused, so that the words can be run directly.
/// Globs and <c>~</c> are kept as written.
/// </summary>
public static class CommandWords
{
    /// <summary>Splits <paramref name="command"/>; false with an error for shell syntax or an unterminated quote.</summary>
    public static bool TrySplit(string command, [NotNullWhen(true)] out IReadOnlyList<string>? words, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(command);
        words = null;
        var result = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < command.Length; i++)
        {
            var ch = command[i];
            switch (ch)
            {
                case ' ' or '\t' or '\n' or '\r':
                    if (inWord) result.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                    break;
                case '\'':
                    var close = command.IndexOf('\'', i + 1);
                    if (close < 0) return Fail("unterminated ' quote in the command", out error);
                    word.Append(command, i + 1, close - i - 1);
                    i = close;
                    inWord = true;
                    break;
                case '"':
                    inWord = true;
                    for (i++; ; i++)
                    {
                        if (i >= command.Length) return Fail("unterminated \" quote in the command", out error);
                        var c = command[i];
                        if (c == '"') break;
                        if (c is '$' or '`') return Shell(c, out error);
                        if (c == '\\' && i + 1 < command.Length && command[i + 1] is '"' or '\\' or '$' or '`' or '\n')
                        {
                            i++;
                            if (command[i] == '\n') continue;
                        }
                        word.Append(command[i]);
                    }
                    break;
                case '\\':
                    if (i + 1 >= command.Length) return Fail("the command ends with a lone backslash", out error);
                    if (command[i + 1] != '\n') word.Append(command[i + 1]);
                    i++;
                    inWord = true;
                    break;
                case '|' or '&' or ';' or '<' or '>' or '(' or ')' or '$' or '`':
                    return Shell(ch, out error);
                case '#' when !inWord:
                    return Shell(ch, out error);
                default:
                    word.Append(ch);
                    inWord = true;
                    break;
            }
        }
        if (inWord) result.Add(word.ToString());
        if (result.Count == 0) return Fail("the command is empty", out error);
        words = result;
        error = null;
        return true;
    }

    private static bool Shell(char ch, out string error) =>
        Fail($"shell syntax '{ch}' needs a shell: commands run without one unless bash is enabled (type: bash)", out error);

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}

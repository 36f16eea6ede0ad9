using System.Globalization;
using System.Text;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Templates;

/// <summary>
/// Renders Flagger's query templates: <c>{{ name }}</c>, <c>{{ namespace }}</c>, <c>{{ target }}</c>,
/// <c>{{ service }}</c>, <c>{{ ingress }}</c>, <c>{{ route }}</c>, <c>{{ interval }}</c> and
/// <c>{{ variables.X }}</c>, with or without spaces inside the braces. Go's trim markers (<c>{{- x -}}</c>) and
/// comments (<c>{{/* … */}}</c>) work as in Go. Like Flagger's <c>missingkey=error</c>, an unknown name, a missing
/// variable or an unclosed <c>{{</c> is an error that names it; so is any other Go template action (pipelines,
/// <c>if</c>, <c>printf</c>), which Aviary does not evaluate rather than render wrongly.
/// </summary>
public static class QueryTemplate
{
    /// <summary>The names a template may use besides <c>variables.X</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["name", "namespace", "target", "service", "ingress", "route", "interval"];

    /// <summary>The rendered query, or an error such as <c>template: missing variable 'foo'</c>.</summary>
    public static Outcome<string> Render(string template, MetricTemplateModel model)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(model);
        var output = new StringBuilder(template.Length + 64);
        var position = 0;
        while (position < template.Length)
        {
            var open = template.IndexOf("{{", position, StringComparison.Ordinal);
            if (open < 0)
            {
                output.Append(template, position, template.Length - position);
                break;
            }
            output.Append(template, position, open - position);
            var close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) return Outcome<string>.Fail($"template: unclosed action '{{{{' at {Where(template, open)}");

            var start = open + 2;
            var end = close;
            // Go's trim markers: "{{- " trims the whitespace before the action, " -}}" the whitespace after it.
            if (end - start >= 2 && template[start] == '-' && char.IsWhiteSpace(template[start + 1]))
            {
                start++;
                while (output.Length > 0 && char.IsWhiteSpace(output[^1])) output.Length--;
            }
            var trimAfter = false;
            if (end - start >= 2 && template[end - 1] == '-' && char.IsWhiteSpace(template[end - 2]))
            {
                end--;
                trimAfter = true;
            }
            position = close + 2;
            if (trimAfter)
            {
                while (position < template.Length && char.IsWhiteSpace(template[position])) position++;
            }

            var action = template[start..end].Trim();
            if (action.StartsWith("/*", StringComparison.Ordinal) && action.EndsWith("*/", StringComparison.Ordinal) && action.Length >= 4) continue;
            var value = Evaluate(action, model, template, open);
            if (!value.Succeeded) return value;
            output.Append(value.Value);
        }
        return output.ToString();
    }

    private static Outcome<string> Evaluate(string action, MetricTemplateModel model, string template, int at)
    {
        switch (action)
        {
            case "name": return model.Name;
            case "namespace": return model.Namespace;
            case "target": return model.Target;
            case "service": return model.Service;
            case "ingress": return model.Ingress;
            case "route": return model.Route;
            case "interval": return model.Interval;
        }
        const string prefix = "variables.";
        if (action.StartsWith(prefix, StringComparison.Ordinal) && IsIdentifier(action.AsSpan(prefix.Length)))
        {
            var key = action[prefix.Length..];
            return model.Variables.TryGetValue(key, out var variable)
                ? variable
                : Outcome<string>.Fail($"template: missing variable '{key}'" +
                    (model.Variables.Count == 0 ? " (the metric has no templateVariables)" : $" (defined: {string.Join(", ", model.Variables.Keys.Order(StringComparer.Ordinal))})"));
        }
        if (IsIdentifier(action))
            return Outcome<string>.Fail($"template: unknown name '{action}' at {Where(template, at)} (known: {string.Join(", ", Names)}, variables.X)");
        return Outcome<string>.Fail(action.Length == 0
            ? $"template: empty action '{{{{}}}}' at {Where(template, at)}"
            : $"template: unsupported action '{{{{ {action} }}}}' at {Where(template, at)}: Aviary renders {string.Join(", ", Names)} and variables.X only");
    }

    private static bool IsIdentifier(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || !(char.IsLetter(text[0]) || text[0] == '_')) return false;
        foreach (var c in text)
        {
            if (!(char.IsLetterOrDigit(c) || c == '_')) return false;
        }
        return true;
    }

    /// <summary>"line L, column C" of an index, 1-based, for messages.</summary>
    private static string Where(string text, int index)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < index; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }
        return string.Create(CultureInfo.InvariantCulture, $"line {line}, column {index - lineStart + 1}");
    }
}

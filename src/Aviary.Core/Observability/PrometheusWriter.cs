using System.Globalization;
using System.Text;

namespace Aviary.Core.Observability;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4: <c># HELP</c> and <c># TYPE</c> per family, then its samples.
/// Label values are escaped; numbers are written in the shortest round-trip form, with +Inf, -Inf and NaN.
/// </summary>
public sealed class PrometheusWriter(StringBuilder text)
{
    public PrometheusWriter() : this(new StringBuilder(4096)) { }

    public StringBuilder Text => text;

    public PrometheusWriter Family(string name, string type, string help)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <param name="labels">Label names and values; values are escaped here.</param>
    public PrometheusWriter Sample(string name, double value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) text.Append(',');
                text.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            text.Append('}');
        }
        text.Append(' ').Append(Format(value)).Append('\n');
        return this;
    }

    /// <summary>A histogram's buckets (cumulative, with +Inf), sum and count.</summary>
    /// <param name="bounds">Upper bounds, ascending, without +Inf.</param>
    /// <param name="counts">Observations per bucket (not cumulative): one more than <paramref name="bounds"/>, the last for +Inf.</param>
    public PrometheusWriter Histogram(string name, IReadOnlyList<double> bounds, IReadOnlyList<long> counts, double sum,
        params (string Name, string Value)[] labels)
    {
        long cumulative = 0;
        for (var i = 0; i <= bounds.Count; i++)
        {
            cumulative += i < counts.Count ? counts[i] : 0;
            var le = i < bounds.Count ? Format(bounds[i]) : "+Inf";
            Sample(name + "_bucket", cumulative, [.. labels, ("le", le)]);
        }
        Sample(name + "_sum", sum, labels);
        Sample(name + "_count", cumulative, labels);
        return this;
    }

    public override string ToString() => text.ToString();

    public static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" :
        double.IsNegativeInfinity(value) ? "-Inf" :
        double.IsNaN(value) ? "NaN" :
        value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static string Escape(string value)
    {
        if (value.AsSpan().IndexOfAny('\\', '"', '\n') < 0) return value;
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

using System.Globalization;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>A small reader of the Prometheus text format 0.0.4, strict enough to catch malformed output.</summary>
public static class PrometheusParser
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Exposition(IReadOnlyList<Sample> Samples, IReadOnlyDictionary<string, string> Types, IReadOnlyDictionary<string, string> Help)
    {
        public IEnumerable<Sample> Find(string name, params (string Key, string Value)[] labels) =>
            Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value));

        public double Sum(string name, params (string Key, string Value)[] labels) => Find(name, labels).Sum(s => s.Value);
    }

    public static Exposition Parse(string text)
    {
        List<Sample> samples = [];
        Dictionary<string, string> types = [];
        Dictionary<string, string> help = [];
        var lines = text.Split('\n');
        Assert.Equal("", lines[^1]); // ends with a line feed
        foreach (var line in lines[..^1])
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line["# TYPE ".Length..].Split(' ');
                Assert.Equal(2, parts.Length);
                Assert.Contains(parts[1], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                Assert.True(types.TryAdd(parts[0], parts[1]), $"TYPE of {parts[0]} given twice");
                continue;
            }
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                var space = rest.IndexOf(' ', StringComparison.Ordinal);
                Assert.True(help.TryAdd(rest[..space], rest[(space + 1)..]));
                continue;
            }
            Assert.False(line.StartsWith('#') || line.Length == 0, $"unexpected line '{line}'");
            samples.Add(ParseSample(line));
        }
        foreach (var sample in samples)
        {
            var family = types.Keys.FirstOrDefault(f => sample.Name == f || (types[f] == "histogram"
                && (sample.Name == f + "_bucket" || sample.Name == f + "_sum" || sample.Name == f + "_count")));
            Assert.True(family is not null, $"sample {sample.Name} has no TYPE line");
        }
        return new Exposition(samples, types, help);
    }

    private static Sample ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':')) i++;
        var name = line[..i];
        Assert.False(string.IsNullOrEmpty(name), line);
        Dictionary<string, string> labels = [];
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var start = i;
                while (line[i] != '=') i++;
                var key = line[start..i];
                Assert.Equal('"', line[++i]);
                i++;
                var value = new System.Text.StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch { 'n' => '\n', '\\' => '\\', '"' => '"', _ => throw new FormatException($"bad escape in {line}") });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                    i++;
                }
                i++;
                Assert.True(labels.TryAdd(key, value.ToString()), $"label {key} repeated in {line}");
                if (line[i] == ',') i++;
            }
            i++;
        }
        Assert.Equal(' ', line[i]);
        var text = line[(i + 1)..];
        var number = text switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, number);
    }
}

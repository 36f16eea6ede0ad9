using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.TestKit;
using FsCheck;
using FsCheck.Fluent;

namespace Aviary.Core.Tests.Manifests;

/// <summary>
/// Property tests: Flagger's real manifests, mutated the ways hands and tools break YAML, never make the reader
/// throw; it always returns documents or a syntax error.
/// </summary>
public sealed class ManifestFuzzTests
{
    private static readonly string[] Corpus = Directory.GetFiles(RepoPaths.Conformance, "*.yaml").Order(StringComparer.Ordinal)
        .Select(File.ReadAllText).ToArray();

    /// <summary>One edit of a manifest's lines; positions are taken modulo the line count.</summary>
    public abstract record Mutation
    {
        public abstract void Apply(List<string> lines);

        protected static int At(List<string> lines, int i) => lines.Count == 0 ? 0 : (int)((uint)i % (uint)lines.Count);
    }

    public sealed record DeleteLine(int Line) : Mutation
    {
        public override void Apply(List<string> lines) { if (lines.Count > 0) lines.RemoveAt(At(lines, Line)); }
    }

    public sealed record DuplicateLine(int Line) : Mutation
    {
        public override void Apply(List<string> lines) { if (lines.Count > 0) lines.Insert(At(lines, Line), lines[At(lines, Line)]); }
    }

    public sealed record SwapLines(int A, int B) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            if (lines.Count == 0) return;
            (lines[At(lines, A)], lines[At(lines, B)]) = (lines[At(lines, B)], lines[At(lines, A)]);
        }
    }

    public sealed record Reindent(int Line, string Prefix, int Remove) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            if (lines.Count == 0) return;
            var i = At(lines, Line);
            var line = lines[i];
            lines[i] = Prefix + line[Math.Min(line.Length - line.TrimStart(' ').Length, Remove)..];
        }
    }

    /// <summary>
    /// Replaces the value of the <paramref name="Line"/>th <c>key: value</c> line (counting only lines with a scalar
    /// value, so that the schema and semantic checks see the new value rather than a syntax error).
    /// </summary>
    public sealed record ReplaceScalar(int Line, string Value) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            var candidates = Enumerable.Range(0, lines.Count)
                .Where(i => lines[i].IndexOf(": ", StringComparison.Ordinal) is var c && c >= 0 && lines[i][(c + 2)..].Trim().Length > 0)
                .ToList();
            if (candidates.Count == 0) return;
            var line = candidates[At(candidates.Count, Line)];
            var colon = lines[line].IndexOf(": ", StringComparison.Ordinal);
            lines[line] = lines[line][..(colon + 2)] + Value;
        }

        private static int At(int count, int i) => (int)((uint)i % (uint)count);
    }

    public sealed record InsertText(int Line, int Column, string Text) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            if (lines.Count == 0) { lines.Add(Text); return; }
            var i = At(lines, Line);
            var column = (int)((uint)Column % (uint)(lines[i].Length + 1));
            lines[i] = lines[i].Insert(column, Text);
        }
    }

    /// <summary>Inserts <paramref name="Text"/> as a child of the <paramref name="Line"/>th line that opens a mapping (<c>key:</c>).</summary>
    public sealed record InsertLine(int Line, string Text) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            var parents = Enumerable.Range(0, lines.Count).Where(i => lines[i].TrimEnd().EndsWith(':')).ToList();
            if (parents.Count == 0)
            {
                lines.Insert(0, Text);
                return;
            }
            var parent = parents[(int)((uint)Line % (uint)parents.Count)];
            var indent = new string(' ', lines[parent].Length - lines[parent].TrimStart().Length + 2);
            lines.Insert(parent + 1, indent + Text.Replace("\n", "\n" + indent, StringComparison.Ordinal));
        }
    }

    public sealed record Truncate(int PerMille) : Mutation
    {
        public override void Apply(List<string> lines)
        {
            var text = string.Join('\n', lines);
            var keep = (int)((long)text.Length * PerMille / 1000);
            lines.Clear();
            lines.AddRange(text[..keep].Split('\n'));
        }
    }

    public sealed record Case(int File, Mutation[] Mutations)
    {
        public string Text()
        {
            var lines = Corpus[File].Split('\n').ToList();
            foreach (var m in Mutations) m.Apply(lines);
            return string.Join('\n', lines);
        }

        public override string ToString() => $"file {File} with {string.Join(", ", Mutations.Select(m => m.ToString()))}:\n{Text()}";
    }

    private static readonly string[] Specials =
    [
        "*", "&", "!", "{", "}", "[", "]", "%", "@", "`", "|", ">", "#", "'", "\"", ",", "?", ":", "-", "\t", "---", "...",
        "&a ", "*a", "*b", "!!binary ", "!!int ", "!!str ", "!!float ", "!!map ", "!!seq ", "!custom ", "<<: *a", "? ", "%YAML 1.1",
        "%TAG ! tag:x,2000:", "\\", "\r", "\u0085", "\u2028", "\ufeff", "\u00a0",
    ];

    private static readonly string[] Scalars =
    [
        "~", "null", "", "yes", "no", "on", "off", "y", "n", "true", "FALSE", ".nan", ".inf", "-.Inf", "0x1F", "0o17", "017", "08", "0b101",
        "1e3", "1e400", "-1e400", "1e-400", "9223372036854775807", "9223372036854775808", "18446744073709551616", "-9223372036854775809",
        "99999999999999999999999999999999999999", "2147483648", "-2147483649", "0.5", "-1", "1.7976931348623157e308", "1_000", "+",
        "日本語", "😀", "\u0000", "\u200b", "a: b", "[1, 2", "{a: 1", "'unterminated", "\"unterminated", "|", ">-", "- x", "&x [*x]",
        "2024-01-02T15:04:05Z", "1m", "10x", "-5s", "1000000h", "http://", "(?<", "request-success-rate", "Canary", "flagger.app/v1alpha3",
    ];

    /// <summary>Lines that reach corners of the schema the corpus does not use.</summary>
    private static readonly string[] Fragments =
    [
        "managedFields: [{a: .nan}]", "managedFields: [1e400, .inf]", "generation: 9223372036854775808", "generation: -9223372036854775809",
        "lastTransitionTime: 01/02/2024", "status: {lastTransitionTime: 'yesterday', conditions: [{type: a}]}", "status: {phase: Runing}",
        "<<: {a: 1}", "<<: *nope", "<<: [1, 2]", "? [a]\n: b", "? ~\n: b", "*a : 1", "&a x: 1", "targetPort: [1]", "targetPort: 1e10",
        "sessionAffinity: {cookieName: c, maxAge: 1e300}", "stepWeights: [1e300, -1, .nan]", "thresholdRange: {min: .nan, max: -.inf}",
        "match: [{headers: {x: {regex: '(?<'}}}]", "gatewayRefs: [{name: ''}]", "canaryAnalysis: {interval: 1s}", "canaryAnalysis: ~",
        "analysis: ~", "spec: ~", "metadata: []", "apiVersion: flagger.app/v1alpha3", "kind: Canery", "a: &x [*x]",
        "iterations: 1e300", "progressDeadlineSeconds: 1e300", "timeout: 99999999999999h", "interval: 0.5s",
    ];

    private static Gen<string> ScalarGen() => Gen.Frequency(
        (4, Gen.Elements(Scalars)),
        (2, Gen.Elements("1e300", "-1e300", "1.7976931348623157e308", "4294967296", "9223372036854775807", "-9223372036854775808",
            "0", "-0", "0.0000001", "100", "101", "65536", "2147483647", "-2147483648")),
        (2, ArbMap.Default.GeneratorFor<string>().Select(s => s ?? "")),
        (2, ArbMap.Default.GeneratorFor<int>().Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (1, ArbMap.Default.GeneratorFor<double>().Select(d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
        (1, ArbMap.Default.GeneratorFor<bool>().Select(b => b ? "true" : "false")),
        (1, Gen.Choose(0, 0x10FFFF).Where(c => c is < 0xD800 or > 0xDFFF).Select(char.ConvertFromUtf32)));

    private static Gen<Mutation> MutationGen()
    {
        var index = ArbMap.Default.GeneratorFor<int>();
        return Gen.Frequency<Mutation>(
            (2, index.Select(i => (Mutation)new DeleteLine(i))),
            (2, index.Select(i => (Mutation)new DuplicateLine(i))),
            (2, index.Two().Select(t => (Mutation)new SwapLines(t.Item1, t.Item2))),
            (2, from line in index
                from prefix in Gen.Elements("", " ", "  ", "    ", "\t", " \t", "      ")
                from remove in Gen.Choose(0, 6)
                select (Mutation)new Reindent(line, prefix, remove)),
            (5, Gen.Zip(index, ScalarGen()).Select(t => (Mutation)new ReplaceScalar(t.Item1, t.Item2))),
            (4, from line in index
                from column in index
                from text in Gen.Frequency((3, Gen.Elements(Specials)), (1, ScalarGen()))
                select (Mutation)new InsertText(line, column, text)),
            (3, from line in index
                from text in Gen.Elements(Fragments)
                select (Mutation)new InsertLine(line, text)),
            (1, Gen.Choose(0, 1000).Select(p => (Mutation)new Truncate(p))));
    }

    private static Arbitrary<Case> Cases() =>
        Gen.Zip(Gen.Choose(0, Corpus.Length - 1),
                Gen.Frequency((4, Gen.Constant(1)), (2, Gen.Constant(2)), (1, Gen.Choose(3, 6))).SelectMany(n => MutationGen().ArrayOf(n)))
            .Select(t => new Case(t.Item1, t.Item2))
            .ToArbitrary();

    [Fact]
    public void Corpus_HoldsTheConformanceManifests() => Assert.Equal(120, Corpus.Length);

    [Fact]
    public void Read_MutatedManifests_NeverThrowsAndReturnsDocumentsOrSyntaxError()
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(4000).WithQuietOnSuccess(true);
        Check.One(config, Prop.ForAll(Cases(), c => Holds(c.Text())));
    }

    [Fact]
    public void Read_RandomText_NeverThrows()
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(1500).WithQuietOnSuccess(true);
        var text = Gen.Frequency(
                (1, ArbMap.Default.GeneratorFor<string>().Select(s => s ?? "")),
                (2, Gen.Elements(Specials.Concat(Scalars).Concat(["\n", "  ", ": ", "- "]).ToArray()).ArrayOf().Select(string.Concat)))
            .ToArbitrary();
        Check.One(config, Prop.ForAll(text, Holds));
    }

    /// <summary>The reader's contract on any input.</summary>
    private static bool Holds(string text)
    {
        var file = ManifestReader.Read(text, "fuzz.yaml");
        var anyDocument = YamlReader.Read(text).Documents.Any(d => d.Root is not null || d.Diagnostics.Count > 0);
        if (file.Documents.Count == 0 && file.SyntaxError is null && anyDocument) return false;
        foreach (var doc in file.Documents)
        {
            _ = doc.Label;
            foreach (var d in doc.Diagnostics)
            {
                if (string.IsNullOrEmpty(d.Message)) return false;
                _ = d.ToString();
            }
            // Valid documents of Aviary's kinds compile; invalid ones never do.
            if (doc.IsValid && !doc.Skipped && doc.Compiled is null) return false;
            if (!doc.IsValid && doc.Compiled is not null) return false;
            if (doc.Manifest is not null) _ = JsonSerializer.Serialize(doc.Manifest, doc.Manifest.GetType(), ModelJson.Options);
        }
        return true;
    }
}

using System.Text;
using System.Text.Json;
using Aviary.TestKit;

namespace Aviary.Cli.Tests.Validate;

/// <summary>Tests that replace standard input run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleInputCollection
{
    public const string Name = "Console input";
}

[Collection(ConsoleInputCollection.Name)]
public sealed class ValidateCommandTests : IDisposable
{
    private const string ValidCanary = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: podinfo
          namespace: test
        spec:
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: podinfo
          service:
            port: 9898
          analysis:
            interval: 30s
            threshold: 5
            stepWeight: 10
            metrics:
            - name: request-success-rate
              thresholdRange:
                min: 99
        """;

    private static readonly string InvalidCanary = ValidCanary
        .Replace("interval: 30s", "interval: 10x", StringComparison.Ordinal)
        .Replace("stepWeight: 10", "stepWeight: 150", StringComparison.Ordinal)
        .Replace("- name: request-success-rate", "- name: error-rate", StringComparison.Ordinal);

    private readonly string _dir = Directory.CreateTempSubdirectory("aviary-validate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text) => WriteBytes(name, Encoding.UTF8.GetBytes(text));

    private string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr);
        var err = stderr.ToString();
        // Whatever the input, the user never sees a stack trace.
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", err, StringComparison.Ordinal);
        return (exit, stdout.ToString(), err);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public async Task Validate_ValidFile_ExitsZero()
    {
        var file = Write("canary.yaml", ValidCanary);
        var (exit, stdout, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(0, exit);
        Assert.Equal($"{file}: 1 document valid", stdout.Trim());
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Validate_InvalidFile_PrintsOneLinePerErrorAndExitsOne()
    {
        var file = Write("canary.yaml", InvalidCanary);
        var (exit, stdout, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Equal(
        [
            $"{file}: Canary/podinfo: spec.analysis.interval: '10x' is not a duration such as 30s or 1m",
            $"{file}: Canary/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 150)",
            $"{file}: Canary/podinfo: spec.analysis.metrics[0]: 'error-rate' is not a built-in metric and has neither templateRef nor query",
        ], Lines(stderr));
    }

    [Fact]
    public async Task Validate_WarningsOnly_ExitsZeroAndPrintsWarnings()
    {
        var file = Write("canary.yaml", ValidCanary.Replace("stepWeight: 10", "stepWeight: 10\n    stepweight: 10", StringComparison.Ordinal));
        var (exit, stdout, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(0, exit);
        Assert.Equal($"{file}: 1 document valid", stdout.Trim());
        Assert.Equal([$"{file}: Canary/podinfo: warning: spec.analysis.stepweight: unknown field, did you mean stepWeight?"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_SeveralFiles_ChecksAllAndFailsIfAnyIsInvalid()
    {
        var good = Write("good.yaml", ValidCanary);
        var bad = Write("bad.yaml", ValidCanary.Replace("stepWeight: 10", "stepWeight: 150", StringComparison.Ordinal));
        var (exit, stdout, stderr) = await RunAsync("validate", "-f", good, "-f", bad);
        Assert.Equal(1, exit);
        Assert.Equal($"{good}: 1 document valid", stdout.Trim());
        Assert.Equal([$"{bad}: Canary/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 150)"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_MultiDocumentFile_LabelsEachDocument()
    {
        var file = Write("all.yaml", $"""
            {ValidCanary}
            ---
            apiVersion: flagger.app/v1beta1
            kind: MetricTemplate
            metadata: {"{"}name: latency{"}"}
            spec:
              provider: {"{"}type: prometheus{"}"}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {"{"}name: podinfo{"}"}
            """);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal(
        [
            $"{file}: MetricTemplate/latency: spec.query: required field is missing",
            $"{file}: Deployment/podinfo: warning: apps/v1 Deployment is not an Aviary document; skipped",
        ], Lines(stderr));
    }

    [Fact]
    public async Task Validate_OutputJson_PrintsFindingsOnStdout()
    {
        var file = Write("canary.yaml", InvalidCanary);
        var (exit, stdout, stderr) = await RunAsync("validate", "-f", file, "--output", "json");
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.False(root.GetProperty("valid").GetBoolean());
        var f = Assert.Single(root.GetProperty("files").EnumerateArray());
        Assert.Equal(file, f.GetProperty("file").GetString());
        var doc = Assert.Single(f.GetProperty("documents").EnumerateArray());
        Assert.Equal("Canary/podinfo", doc.GetProperty("label").GetString());
        var errors = doc.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(["spec.analysis.interval", "spec.analysis.stepWeight", "spec.analysis.metrics[0]"], errors.Select(e => e.GetProperty("path").GetString()));
        Assert.Equal("must be between 1 and 100 (got 150)", errors[1].GetProperty("message").GetString());
        Assert.Equal(16, errors[1].GetProperty("line").GetInt32());
        Assert.Empty(doc.GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task Validate_OutputJsonForValidFile_ExitsZero()
    {
        var file = Write("canary.yaml", ValidCanary);
        var (exit, stdout, _) = await RunAsync("validate", "-f", file, "-o", "json");
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(stdout);
        Assert.True(json.RootElement.GetProperty("valid").GetBoolean());
    }

    [Fact]
    public async Task Validate_MissingFile_SaysSoAndExitsOne()
    {
        var file = Path.Combine(_dir, "nope.yaml");
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: no such file"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_Directory_SaysSoAndExitsOne()
    {
        var (exit, _, stderr) = await RunAsync("validate", "-f", _dir);
        Assert.Equal(1, exit);
        Assert.Equal([$"{_dir}: is a directory, not a file"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_EmptyFile_SaysSoAndExitsOne()
    {
        var file = Write("empty.yaml", "");
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: no documents found (the input is empty)"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_CommentsOnly_CountsAsEmpty()
    {
        var file = Write("comments.yaml", "# nothing here\n---\n");
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: no documents found (the input is empty)"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_BinaryFile_SaysSoAndExitsOne()
    {
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        var file = WriteBytes("binary.bin", bytes);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith($"{file}: is not UTF-8 text: invalid byte sequence at byte offset ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_FileWithNulBytes_IsSyntaxErrorWithPosition()
    {
        // Valid UTF-8, but YAML allows no control characters (YamlDotNet would stop reading at the NUL).
        var file = WriteBytes("nul.yaml", [.. Encoding.UTF8.GetBytes(ValidCanary + "\n"), 0, 0, .. Encoding.UTF8.GetBytes("garbage: [")]);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: malformed YAML at line 21, column 1: control character U+0000 is not allowed (is this a binary file?)"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_InvalidUtf8_SaysWhereAndExitsOne()
    {
        var file = WriteBytes("latin1.yaml", [.. Encoding.UTF8.GetBytes("metadata:\n  name: caf"), 0xE9, (byte)'\n']);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: is not UTF-8 text: invalid byte sequence at byte offset 21 (0xE9); is this a binary file?"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_Utf16WithByteOrderMark_IsRead()
    {
        var file = WriteBytes("utf16.yaml", [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(ValidCanary)]);
        var (exit, stdout, _) = await RunAsync("validate", "-f", file);
        Assert.Equal(0, exit);
        Assert.Equal($"{file}: 1 document valid", stdout.Trim());
    }

    [Fact]
    public async Task Validate_Utf8WithByteOrderMark_IsRead()
    {
        var file = WriteBytes("bom.yaml", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(ValidCanary)]);
        var (exit, _, _) = await RunAsync("validate", "-f", file);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task Validate_MalformedYaml_ReportsLineAndColumn()
    {
        var file = Write("broken.yaml", "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: a\n labels: x\n");
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        var line = Assert.Single(Lines(stderr));
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(file)}: malformed YAML at line [45], column [0-9]+: ", line);
    }

    [Fact]
    public async Task Validate_TooLargeFile_IsRefused()
    {
        var file = Path.Combine(_dir, "huge.yaml");
        await using (var stream = File.Create(file)) stream.SetLength(Commands.Validate.ValidateCommand.MaxInputBytes + 1);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Equal([$"{file}: is larger than 16 MiB"], Lines(stderr));
    }

    [Fact]
    public async Task Validate_StandardInput_IsRead()
    {
        var original = Console.In;
        try
        {
            Console.SetIn(new StringReader(InvalidCanary));
            var (exit, _, stderr) = await RunAsync("validate", "-f", "-");
            Assert.Equal(1, exit);
            Assert.Contains("-: Canary/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 150)", Lines(stderr));

            Console.SetIn(new StringReader(ValidCanary));
            var (valid, stdout, _) = await RunAsync("validate", "-f", "-");
            Assert.Equal(0, valid);
            Assert.Equal("-: 1 document valid", stdout.Trim());
        }
        finally
        {
            Console.SetIn(original);
        }
    }

    [Fact]
    public async Task Validate_AliasBomb_IsErrorNotHang()
    {
        var bomb = new StringBuilder("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (var c = 'b'; c <= 'k'; c++) bomb.Append($"{c}: &{c} [{string.Join(",", Enumerable.Repeat($"*{(char)(c - 1)}", 10))}]\n");
        var file = Write("bomb.yaml", bomb.ToString());
        var (exit, _, stderr) = await RunAsync("validate", "-f", file);
        Assert.Equal(1, exit);
        Assert.Contains("alias bomb", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_NoFileOption_IsUsageErrorWithoutTrace()
    {
        var (exit, _, stderr) = await RunAsync("validate");
        Assert.NotEqual(0, exit);
        Assert.Contains("--file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_UnknownOutputFormat_IsUsageError()
    {
        var file = Write("canary.yaml", ValidCanary);
        var (exit, _, stderr) = await RunAsync("validate", "-f", file, "-o", "yaml");
        Assert.NotEqual(0, exit);
        Assert.Contains("yaml", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ConformanceManifests_AgreeWithKubernetes()
    {
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepoPaths.Conformance, "index.json")));
        foreach (var entry in index.RootElement.EnumerateArray())
        {
            var file = Path.Combine(RepoPaths.Conformance, entry.GetProperty("file").GetString()!);
            var (exit, _, _) = await RunAsync("validate", "-f", file);
            Assert.True((exit == 0) == entry.GetProperty("acceptedByKubernetesWithFlaggerCrd").GetBoolean(), file);
        }
    }
}

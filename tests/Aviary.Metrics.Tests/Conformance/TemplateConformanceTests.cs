using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Hooks.Secrets;
using Aviary.Metrics.Providers;
using Aviary.Metrics.Tests.Providers;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Conformance;

/// <summary>
/// Every MetricTemplate of Flagger's conformance corpus (<c>../shared/conformance/flagger/</c>) whose provider queries a
/// vendor's API validates and runs its scenario unchanged: a canary uses it by <c>templateRef</c>, Aviary's scheduler
/// runs in virtual time with the real metric resolver, and the provider queries a local server that answers as the
/// vendor's documented API does (the one its provider tests use, <see cref="IVendorApi"/>). Only the template's address
/// is pointed at that server; its credentials come from its <c>secretRef</c> as a mounted Secret (the environment for
/// CloudWatch without one, as Flagger's SDK does). Graphite's run against a real Graphite, fed the target's series. A release whose metric the API answers under the threshold is
/// promoted; a second one, answered over it, is rolled back. The query the API received and the decisions per tick
/// are the golden file <c>Conformance/Golden/&lt;manifest&gt;.txt</c>.
/// </summary>
public sealed partial class TemplateConformanceTests
{
    /// <summary>The server each provider type's corpus templates query (Keptn's run on the real API server, in the Kubernetes tests).</summary>
    private static readonly Dictionary<string, Func<IVendorApi>> Apis = new(StringComparer.Ordinal)
    {
        ["graphite"] = () => new RealGraphite(),
        ["datadog"] = () => new DatadogProviderTests(),
        ["cloudwatch"] = () => new CloudWatchProviderTests(),
        ["newrelic"] = () => new NewRelicProviderTests(),
        ["dynatrace"] = () => new DynatraceProviderTests(),
        ["stackdriver"] = () => new StackdriverProviderTests(),
        ["splunk"] = () => new SplunkProviderTests(),
        ["influxdb"] = () => new InfluxDbProviderTests(),
    };

    private const double Threshold = 5;

    /// <summary>
    /// Corpus templates that cannot work as written, with the smallest change that makes them work and why: each runs
    /// (or is refused) as written first, then with the change.
    /// </summary>
    private static readonly Dictionary<string, (string Find, string Replace, string Why)> Fixes = new(StringComparer.Ordinal)
    {
        ["docs__gitbook__usage__metrics__7.yaml"] = ("apiVersion: flagger.app/v1alpha1", "apiVersion: flagger.app/v1beta1",
            "flagger.app/v1alpha1 is not served (Flagger 1.0 removed it): the API server refuses it too"),
        ["docs__gitbook__usage__metrics__9.yaml"] = ("{{interval}},", "'{{interval}}',",
            "graphite-web answers 500 to summarize with an unquoted interval such as 1min, and Flagger renders it unquoted too"),
    };

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var (file, _, accepted) in Corpus())
            if (accepted || Fixes.ContainsKey(file)) data.Add(file);
        return data;
    }

    public static TheoryData<string> Refused()
    {
        var data = new TheoryData<string>();
        foreach (var (file, _, accepted) in Corpus())
            if (!accepted && !Fixes.ContainsKey(file)) data.Add(file);
        return data;
    }

    /// <summary>The corpus's MetricTemplates for the servers above, with their provider type and whether Flagger's CRD accepts them.</summary>
    private static IEnumerable<(string File, string Type, bool Accepted)> Corpus()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Conformance, "index.json")));
        foreach (var entry in doc.RootElement.EnumerateArray())
        {
            if (entry.GetProperty("kind").GetString() != MetricTemplate.KindName) continue;
            var file = entry.GetProperty("file").GetString()!;
            var type = ProviderType().Match(File.ReadAllText(Path.Combine(RepoPaths.Conformance, file)));
            if (type.Success && Apis.ContainsKey(type.Groups["t"].Value))
                yield return (file, type.Groups["t"].Value, entry.GetProperty("acceptedByKubernetesWithFlaggerCrd").GetBoolean());
        }
    }

    [GeneratedRegex(@"^\s+type:\s*(?<t>[a-z]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ProviderType();

    [Fact]
    public void Corpus_EveryServerHasATemplateThatRuns()
    {
        Assert.Equal(Apis.Keys.Order(StringComparer.Ordinal),
            Corpus().Where(c => c.Accepted || Fixes.ContainsKey(c.File)).Select(c => c.Type).Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>What Flagger's CRD refuses, Aviary refuses too, naming the field.</summary>
    [Theory]
    [MemberData(nameof(Refused))]
    public void Template_RefusedByFlaggersCrd_RefusedWithTheField(string file)
    {
        var document = Assert.Single(ManifestReader.Read(File.ReadAllText(Path.Combine(RepoPaths.Conformance, file)), file).Documents);
        Assert.False(document.IsValid);
        Assert.Contains(Errors(document), e => e.StartsWith("spec.", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public async Task Template_PromotedThenRolledBack_QueriesAsTheGoldenTranscriptSays(string file)
    {
        var type = Corpus().Single(c => c.File == file).Type;
        var text = File.ReadAllText(Path.Combine(RepoPaths.Conformance, file));
        var api = Apis[type]();
        await api.InitializeAsync();
        var secrets = Directory.CreateTempSubdirectory("aviary-conf-secrets-").FullName;
        try
        {
            var transcript = new StringBuilder();
            transcript.Append(CultureInfo.InvariantCulture, $"# {file} on {type}\n");
            if (Fixes.TryGetValue(file, out var fix))
            {
                var asWritten = Assert.Single(ManifestReader.Read(text, file).Documents);
                transcript.Append("\n## as written\n");
                if (!asWritten.IsValid)
                {
                    foreach (var error in Errors(asWritten)) transcript.Append("refused: ").Append(error).Append('\n');
                }
                else
                {
                    await RunAsync(Assert.IsType<MetricTemplate>(asWritten.Manifest), api, secrets, "frontend", Threshold / 4, "Failed", transcript);
                }
                Assert.Contains(fix.Find, text, StringComparison.Ordinal);
                text = text.Replace(fix.Find, fix.Replace, StringComparison.Ordinal);
                transcript.Append(CultureInfo.InvariantCulture, $"\n## with {fix.Replace} for {fix.Find}: {fix.Why}\n");
            }
            var document = Assert.Single(ManifestReader.Read(text, file).Documents);
            Assert.True(document.IsValid, $"{file}: {string.Join("; ", document.Diagnostics)}");
            var template = Assert.IsType<MetricTemplate>(document.Manifest);
            await RunAsync(template, api, secrets, "podinfo", Threshold / 4, "Succeeded", transcript);
            await RunAsync(template, api, secrets, "checkout", Threshold * 8.4, "Failed", transcript);
            Golden.Verify($"Conformance/Golden/{Path.GetFileNameWithoutExtension(file)}.txt", transcript.ToString());
        }
        finally
        {
            await api.DisposeAsync();
            Directory.Delete(secrets, recursive: true);
        }
    }

    /// <summary>
    /// One release of <paramref name="target"/> (each release is of its own target, so that a real server's data about
    /// one does not answer for the next), the API answering <paramref name="answer"/>, which must end in <paramref name="expected"/>.
    /// </summary>
    private static async Task RunAsync(MetricTemplate template, IVendorApi api, string secretsDir, string target, double answer, string expected,
        StringBuilder transcript)
    {
        var ns = template.Metadata.Namespace ?? "test";
        var redirected = template with { Spec = template.Spec with { Provider = api.Redirect(template.Spec.Provider) } };
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (template.Spec.Provider.SecretRef is { Name: { } secret })
        {
            // The secret as Kubernetes mounts it: one file per key.
            var dir = Directory.CreateDirectory(Path.Combine(secretsDir, secret)).FullName;
            foreach (var (key, value) in api.Credentials) await File.WriteAllTextAsync(Path.Combine(dir, key), value);
        }
        else
        {
            foreach (var (key, value) in api.Credentials) environment[key.ToUpperInvariant()] = value;
        }
        var rendered = new List<string>();
        using var resolver = new MetricResolver(new MetricResolverOptions(), new FakeMetrics(),
            (n, name, _) => ValueTask.FromResult(n == ns && name == template.Metadata.Name ? redirected : null),
            new EnvironmentSecrets(secretsDir, _ => null), api.Time, null,
            context => Recording.Wrap(context.Spec.Type == CloudWatchProvider.TypeName
                ? CloudWatchProvider.Create(context, name => environment.GetValueOrDefault(name))
                : MetricProviders.Create(context), rendered));
        var harness = new SchedulerHarness(
            SchedulerHarness.TemplateCanary(template.Metadata.Name, ns, Threshold, api.Type == "graphite" ? "1min" : "1m", target), metrics: resolver);

        await api.AnswerAsync(target, answer);
        var before = api.Received.Count;
        transcript.Append(CultureInfo.InvariantCulture, $"\n### a release of {target}: the API answers {answer.ToString(CultureInfo.InvariantCulture)} (threshold: max {Threshold.ToString(CultureInfo.InvariantCulture)})\n");
        await harness.RunReleaseAsync(transcript);
        Assert.True(harness.Phase == expected, $"{harness.Phase}; events: {string.Join(" | ", harness.Events.Distinct())}");
        foreach (var failure in harness.Events.Where(e => e.StartsWith("Metric query failed", StringComparison.Ordinal)).Distinct())
        {
            var line = Regex.Replace(OneLine(failure), @"http://127\.0\.0\.1:[0-9]+", "http://127.0.0.1:<port>");
            transcript.Append("event: ").Append(line.Length > 200 ? line[..200] + "…" : line).Append('\n');
        }

        transcript.Append("rendered:\n");
        lock (rendered) foreach (var query in rendered.Distinct()) transcript.Append("  ").Append(OneLine(query)).Append('\n');
        var received = api.Received.Skip(before).Distinct().ToList();
        if (received.Count > 0) transcript.Append("the API received:\n");
        foreach (var query in received) transcript.Append("  ").Append(query.Length == 0 ? "(an empty query: the online check)" : OneLine(query)).Append('\n');
    }

    private static IEnumerable<string> Errors(ManifestDocument document) =>
        document.Diagnostics.Where(d => d.IsError).Select(d => $"{d.Path}: {d.Message}");

    private static string OneLine(string text) => Regex.Replace(text, @"\s+", " ").Trim();

    /// <summary>A provider that keeps every query it is asked to run, as the template rendered it.</summary>
    private sealed class Recording(IMetricQueryProvider inner, List<string> queries) : IMetricQueryProvider
    {
        public static Aviary.Core.Abstractions.Outcome<IMetricQueryProvider> Wrap(Aviary.Core.Abstractions.Outcome<IMetricQueryProvider> created, List<string> queries) =>
            created.Succeeded ? Aviary.Core.Abstractions.Outcome<IMetricQueryProvider>.Ok(new Recording(created.Value!, queries)) : created;

        public string Type => inner.Type;

        public ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
        {
            lock (queries) queries.Add(query);
            return inner.RunQueryAsync(query, cancellationToken);
        }

        public ValueTask<Aviary.Core.Abstractions.Outcome> IsOnlineAsync(CancellationToken cancellationToken) => inner.IsOnlineAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }

    /// <summary>A real Graphite (Debian's carbon and graphite-web), fed through carbon the series Flagger's documented query reads.</summary>
    private sealed class RealGraphite : IVendorApi
    {
        private GraphiteServer? _server;

        public string Type => "graphite";

        public TimeProvider Time => TimeProvider.System;

        public async Task InitializeAsync() => _server = await GraphiteServer.StartAsync();

        public async Task DisposeAsync()
        {
            if (_server is not null) await _server.DisposeAsync();
        }

        public MetricTemplateProvider Redirect(MetricTemplateProvider corpus) => corpus with { Address = _server!.Url.ToString() };

        public IReadOnlyDictionary<string, string> Credentials { get; } = new Dictionary<string, string>();

        /// <summary>
        /// Spring Boot's timer counts for <paramref name="target"/> every 10 s over the last two minutes: <paramref name="value"/>
        /// successful requests and 100 − value server errors, so that the share of requests without a server error is value %.
        /// </summary>
        public async Task AnswerAsync(string target, double value)
        {
            var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
            var prefix = $"stats.timers.httpServerRequests.app.{target}.exception.None.method.GET.outcome";
            // One series at a time, each until graphite-web renders it: a query while only one of them is visible would
            // read 0 % or 100 %.
            foreach (var (series, count) in new[] { ("SUCCESS.status.200", value), ("SERVER_ERROR.status.500", 100 - value) })
            {
                var path = $"{prefix}.{series}.uri.root.count";
                var lines = new List<string>();
                for (var t = now - 120; t <= now; t += 10)
                    lines.Add($"{path} {count.ToString(CultureInfo.InvariantCulture)} {t.ToString(CultureInfo.InvariantCulture)}");
                await _server!.SendAsync(lines, path);
            }
        }

        public IReadOnlyList<string> Received => [];
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Hooks.LoadTester;
using Aviary.Hooks.Webhooks;
using Aviary.TestKit;

namespace Aviary.Hooks.Tests.LoadTester;

public sealed class LoadTesterServerTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aviary-loadtester-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(2) };
    private readonly RecordingLogger _logs = new();
    private readonly List<LoadTesterServer> _servers = [];

    private string StateDir => Path.Combine(_dir, "state");

    private async Task<LoadTesterServer> StartAsync(LoadTesterOptions? options = null)
    {
        var server = new LoadTesterServer((options ?? new LoadTesterOptions()) with { Port = 0, StateDirectory = (options?.StateDirectory) ?? StateDir }, _logs);
        _servers.Add(server);
        await server.StartAsync(CancellationToken.None);
        return server;
    }

    private static string Payload(string name = "podinfo", string ns = "test", Dictionary<string, string>? metadata = null) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["name"] = name,
            ["namespace"] = ns,
            ["phase"] = "Progressing",
            ["checksum"] = "abc",
            ["metadata"] = metadata,
        });

    private static string Command(string cmd, string? type = null, bool returnOutput = false) => Payload(metadata: new Dictionary<string, string>
    {
        ["cmd"] = cmd,
        ["type"] = type ?? "cmd",
        ["returnCmdOutput"] = returnOutput ? "true" : "false",
    });

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(LoadTesterServer server, string path, string body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address!, path)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (token is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Gates_EveryRoute_AnswersAsFlaggersLoadTester()
    {
        var server = await StartAsync();
        var podinfo = Payload();
        var other = Payload(name: "other");

        Assert.Equal((HttpStatusCode.OK, "OK"), await PostAsync(server, "/gate/approve", podinfo));
        Assert.Equal((HttpStatusCode.Forbidden, "Forbidden"), await PostAsync(server, "/gate/halt", podinfo));

        Assert.Equal((HttpStatusCode.Forbidden, "Forbidden"), await PostAsync(server, "/gate/check", podinfo));
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/gate/open", podinfo)).Status);
        Assert.Equal((HttpStatusCode.OK, "Approved"), await PostAsync(server, "/gate/check", podinfo));
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/gate/check", other)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/rollback/check", podinfo)).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/gate/close", podinfo)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/gate/check", podinfo)).Status);

        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/rollback/open", podinfo)).Status);
        Assert.Equal((HttpStatusCode.OK, "Approved"), await PostAsync(server, "/rollback/check", podinfo));
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/gate/check", podinfo)).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/rollback/close", podinfo)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/rollback/check", podinfo)).Status);

        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(server, "/gate/check", "not json")).Status);
        using var health = await _http.GetAsync(new Uri(server.Address!, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Gates_StateSurvivesARestart()
    {
        var first = await StartAsync();
        await PostAsync(first, "/gate/open", Payload());
        await PostAsync(first, "/rollback/open", Payload(name: "other"));
        await PostAsync(first, "/gate/open", Payload(name: "closed-again"));
        await PostAsync(first, "/gate/close", Payload(name: "closed-again"));
        await first.StopAsync(CancellationToken.None);

        var second = await StartAsync();

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(second, "/gate/check", Payload())).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(second, "/rollback/check", Payload(name: "other"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(second, "/gate/check", Payload(name: "closed-again"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(second, "/rollback/check", Payload())).Status);
        Assert.Equal(["gates.json"], Directory.GetFiles(StateDir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Cmd_SameCommandWhileItRuns_IsNotStartedTwice()
    {
        await using var target = await Receiver.StartAsync();
        target.Respond = (_, _) => (null, "");
        var server = await StartAsync();
        var command = Command($"curl -s {target.Url("/hold")}");

        Assert.Equal((HttpStatusCode.Accepted, "command started"), await PostAsync(server, "/", command));
        await Eventually.True(() => target.Requests.Count == 1, what: "curl reached the target");
        Assert.Equal((HttpStatusCode.Accepted, "command already running"), await PostAsync(server, "/", command));
        Assert.Equal(1, server.TotalExecutions);
        Assert.Equal(1, server.RunningCommands);

        target.Release();
        await Eventually.True(() => server.RunningCommands == 0, what: "curl ended");
        Assert.Equal((HttpStatusCode.Accepted, "command started"), await PostAsync(server, "/", command));
        Assert.Equal(2, server.TotalExecutions);
        await Eventually.True(() => target.Requests.Count == 2, what: "curl ran again");
    }

    [Fact]
    public async Task Stop_KillsTheCommandsStillRunning()
    {
        await using var target = await Receiver.StartAsync();
        target.Respond = (_, _) => (null, "");
        var server = await StartAsync();
        await PostAsync(server, "/", Command($"curl -s {target.Url("/hold")}"));
        await Eventually.True(() => target.Requests.Count == 1, what: "curl reached the target");

        await server.StopAsync(CancellationToken.None);

        Assert.Equal(0, server.RunningCommands);
        Assert.Contains("was stopped", _logs.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rm -rf /tmp/nothing-here", "program 'rm' is not allowed")]
    [InlineData("/tmp/curl http://127.0.0.1/", "program '/tmp/curl' is not allowed")]
    [InlineData("curl -s http://127.0.0.1/ | sh", "shell syntax '|' needs a shell")]
    [InlineData("curl http://127.0.0.1/$(id)", "shell syntax '$' needs a shell")]
    [InlineData("hey -x http://proxy:3128 http://127.0.0.1/", "flag -x (HTTP proxy) is not supported")]
    public async Task Cmd_OutsideTheAllowlistOrNeedingAShell_IsRefused(string cmd, string error)
    {
        var server = await StartAsync(new LoadTesterOptions { BuiltinHey = BuiltinHeyMode.Always });

        var (status, body) = await PostAsync(server, "/", Command(cmd));
        var (bashStatus, _) = await PostAsync(server, "/", Command(cmd, "bash"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(error, body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, bashStatus);
        Assert.Equal(0, server.TotalExecutions);
    }

    [Theory]
    [InlineData("helm")]
    [InlineData("helmv3")]
    [InlineData("kubectl")]
    [InlineData("concord")]
    [InlineData("ngrinder")]
    [InlineData("tester")]
    public async Task Task_FlaggersOtherTypes_AreNotSupported(string type)
    {
        var server = await StartAsync();

        var (status, body) = await PostAsync(server, "/", Command("test run ./chart", type));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"type {type} is not supported by Aviary's load tester (supported: cmd, bash)", body);
    }

    [Fact]
    public async Task Task_BadPayloads_Answer400LikeFlagger()
    {
        var server = await StartAsync();

        Assert.Equal((HttpStatusCode.BadRequest, "metadata not found in payload"), await PostAsync(server, "/", Payload()));
        Assert.Equal((HttpStatusCode.BadRequest, "cmd not found in metadata"), await PostAsync(server, "/", Payload(metadata: new() { ["type"] = "cmd" })));
        Assert.Equal((HttpStatusCode.BadRequest, "decoding the request body failed"), await PostAsync(server, "/", "{"));
    }

    [Fact]
    public async Task Bash_Enabled_RunsWithBashAndReturnsTheOutput()
    {
        var server = await StartAsync(new LoadTesterOptions { EnableBash = true });

        Assert.Equal((HttpStatusCode.OK, "HELLO\n"), await PostAsync(server, "/", Command("echo hello | tr a-z A-Z", "bash", returnOutput: true)));
        Assert.Equal((HttpStatusCode.OK, ""), await PostAsync(server, "/", Command("echo hello", "bash")));
        var (status, body) = await PostAsync(server, "/", Command("echo oops; exit 3", "bash"));
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("command echo oops; exit 3 failed: oops: exit status 3", body);
    }

    [Fact]
    public async Task Bash_NotEnabled_RunsTheWordsWithoutAShell_UnderTheAllowlist()
    {
        await using var target = await Receiver.StartAsync();
        target.Respond = (_, _) => (200, "from the target");
        var server = await StartAsync();

        var (status, body) = await PostAsync(server, "/", Command($"curl -s '{target.Url("/x")}'", "bash", returnOutput: true));

        Assert.Equal((HttpStatusCode.OK, "from the target"), (status, body));
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(server, "/", Command("echo hello | tr a-z A-Z", "bash", true))).Status);
    }

    [Fact]
    public async Task Hey_Installed_RunsTheHeyProgram()
    {
        DebianPackages.Ensure("hey");
        await using var target = await Receiver.StartAsync();
        var server = await StartAsync(new LoadTesterOptions { BuiltinHey = BuiltinHeyMode.Never });

        var (status, body) = await PostAsync(server, "/", Command($"hey -n 7 -c 1 {target.Url("/")}", "bash", returnOutput: true));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Summary:", body, StringComparison.Ordinal);
        Assert.Contains("[200]\t7 responses", body, StringComparison.Ordinal);
        Assert.Contains("Details (average, fastest, slowest):", body, StringComparison.Ordinal); // hey's own section
        Assert.Equal(7, target.Requests.Count);
    }

    [Fact]
    public async Task Hey_Builtin_RunsInProcessAndPrintsHeysSummary()
    {
        await using var target = await Receiver.StartAsync();
        var server = await StartAsync(new LoadTesterOptions { BuiltinHey = BuiltinHeyMode.Always, AllowedPrograms = ["hey"] });

        var (status, body) = await PostAsync(server, "/", Command($"hey -n 7 -c 2 -m POST -d 'x=1' {target.Url("/")}", "bash", returnOutput: true));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Summary:", body, StringComparison.Ordinal);
        Assert.Contains("[200]\t7 responses", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Details", body, StringComparison.Ordinal);
        Assert.Equal(7, target.Requests.Count);
        Assert.All(target.Requests, r => Assert.Equal(("POST", "x=1"), (r.Method, r.Text)));
    }

    [Fact]
    public async Task Hey_ProgramMissing_FallsBackToTheBuiltinGenerator()
    {
        await using var target = await Receiver.StartAsync();
        const string Missing = "/nonexistent/bin/hey";
        var server = await StartAsync(new LoadTesterOptions { AllowedPrograms = [Missing] });
        var never = await StartAsync(new LoadTesterOptions { AllowedPrograms = [Missing], BuiltinHey = BuiltinHeyMode.Never });

        var (status, body) = await PostAsync(server, "/", Command($"{Missing} -n 2 -c 1 {target.Url("/")}", "bash", returnOutput: true));
        var refused = await PostAsync(never, "/", Command($"{Missing} -n 2 -c 1 {target.Url("/")}", "bash"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("[200]\t2 responses", body, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.BadRequest, $"program '{Missing}' does not exist"), refused);
    }

    [Fact]
    public async Task Hey_BuiltinAsCmd_RunsInTheBackground()
    {
        await using var target = await Receiver.StartAsync();
        var server = await StartAsync(new LoadTesterOptions { BuiltinHey = BuiltinHeyMode.Always });

        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/", Command($"hey -n 3 -c 1 {target.Url("/")}"))).Status);

        await Eventually.True(() => server.RunningCommands == 0 && target.Requests.Count == 3, what: "the load ran");
        Assert.Contains("command finished hey -n 3", _logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_CallsWithoutItAreRefused_WithItOrASignatureAccepted_NeverLogged()
    {
        const string Token = "tok-5ecr3t-value";
        var tokenFile = Path.Combine(_dir, "token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        await using var target = await Receiver.StartAsync();
        var server = await StartAsync(new LoadTesterOptions { TokenFile = tokenFile });

        var refused = await PostAsync(server, "/gate/approve", Payload());
        var wrong = await PostAsync(server, "/gate/approve", Payload(), token: "nope");
        var task = await PostAsync(server, "/", Command($"curl -s -H 'Authorization: Bearer {Token}' {target.Url("/")}", "bash"));
        var bearer = await PostAsync(server, "/gate/approve", Payload(), token: Token);
        var withToken = await PostAsync(server, "/", Command($"curl -s -H 'Authorization: Bearer {Token}' {target.Url("/")}", "bash"), token: Token);
        using var health = await _http.GetAsync(new Uri(server.Address!, "/healthz"));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, task.Status);
        Assert.Equal(HttpStatusCode.OK, bearer.Status);
        Assert.Equal(HttpStatusCode.OK, withToken.Status);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(Token, Assert.Single(target.Requests).Header("Authorization")!["Bearer ".Length..]);

        // Aviary's webhook client signing with the token as its secret passes too.
        using var client = new HttpWebhookClient(TimeProvider.System, new WebhookSigning { SecretFile = tokenFile });
        using var unsigned = new HttpWebhookClient(TimeProvider.System);
        var hook = new WebhookCheck { Name = "gate", Type = WebhookType.ConfirmRollout, Url = new Uri(server.Address!, "/gate/approve"), Timeout = TimeSpan.FromSeconds(30) };
        var payload = new WebhookPayload("podinfo", "test", "Progressing", "abc", new Dictionary<string, string>());
        Assert.True((await client.CallAsync(hook, payload, CancellationToken.None)).Succeeded);
        Assert.Equal(401, (await unsigned.CallAsync(hook, payload, CancellationToken.None)).StatusCode);

        Assert.Contains("refused: no valid token or signature", _logs.Text, StringComparison.Ordinal);
        Assert.Contains("command finished curl -s -H 'Authorization: Bearer ***'", _logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, _logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_FromVariable_IsHiddenFromTheCommands()
    {
        var variable = "AVIARY_TEST_LOADTESTER_TOKEN_" + Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string> { [variable] = "tok-from-env" };
        Environment.SetEnvironmentVariable(variable, "tok-from-env");
        try
        {
            var server = new LoadTesterServer(new LoadTesterOptions { Port = 0, EnableBash = true, TokenEnvironmentVariable = variable }, _logs, null, env.GetValueOrDefault);
            _servers.Add(server);
            await server.StartAsync(CancellationToken.None);

            var (status, body) = await PostAsync(server, "/", Command($"echo \"[${variable}]\"", "bash", returnOutput: true), token: "tok-from-env");

            Assert.Equal((HttpStatusCode.OK, "[]\n"), (status, body));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Start_TokenConfiguredButMissing_Throws()
    {
        var server = new LoadTesterServer(new LoadTesterOptions { Port = 0, TokenFile = Path.Combine(_dir, "missing") });

        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task NamespacePattern_OtherNamespaces_Forbidden()
    {
        var server = await StartAsync(new LoadTesterOptions { NamespacePattern = "^(test|prod)$" });

        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(server, "/gate/open", Payload(ns: "test"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(server, "/gate/open", Payload(ns: "dev"))).Status);
        Assert.Equal((HttpStatusCode.Forbidden, "Forbidden"), await PostAsync(server, "/", Payload(ns: "dev", metadata: new() { ["cmd"] = "curl x" })));
    }

    [Fact]
    public async Task RunAsync_ServesUntilCancelled()
    {
        var server = new LoadTesterServer(new LoadTesterOptions { Port = 0 });
        using var stop = new CancellationTokenSource();

        var run = server.RunAsync(stop.Token);
        await Eventually.True(() => server.Address is not null, what: "the server listens");
        Assert.Equal((HttpStatusCode.OK, "OK"), await PostAsync(server, "/gate/approve", Payload()));
        await stop.CancelAsync();
        await run;

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => _http.GetAsync(new Uri(server.Address!, "/healthz")));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

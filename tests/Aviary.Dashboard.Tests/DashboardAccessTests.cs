using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aviary.Core.Model;
using Aviary.Local.Controller;
using Microsoft.Extensions.Logging;

namespace Aviary.Dashboard.Tests;

/// <summary>
/// The dashboard's access control over HTTP, against a real local controller with a running canary: who may look,
/// who may act, the session cookie's flags, CSRF, same-origin, read-only and "log in first" modes, and that the token
/// never reaches a log line.
/// </summary>
public sealed class DashboardAccessTests
{
    private static async Task<LocalTestBed> StartAsync(CollectingLoggers? logs = null, DashboardOptions? dashboard = null) =>
        await LocalTestBed.CreateAsync(async bed =>
        {
            bed.WriteWorkload("--version 1.0.0");
            bed.WriteCanary(LocalTestBed.FastAnalysis);
            await bed.StartControllerAsync(logs, o => o with { Dashboard = dashboard ?? new DashboardOptions() });
            await bed.WaitForPhaseAsync(CanaryPhase.Initialized, TimeSpan.FromMinutes(2));
        });

    private static Uri Base(LocalTestBed bed) => new($"http://127.0.0.1:{bed.ApiPort.ToString(CultureInfo.InvariantCulture)}/");

    private static HttpClient Client(LocalTestBed bed) =>
        new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = Base(bed) };

    private static string Token(LocalTestBed bed) => ApiToken.Read(bed.State)!;

    private static async Task<(string Cookie, string Csrf, HttpResponseMessage Response)> LoginAsync(HttpClient http, string token)
    {
        var response = await http.PostAsJsonAsync("/ui/api/login", new { token });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single();
        var csrf = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrf").GetString()!;
        return (setCookie.Split(';')[0], csrf, response);
    }

    private static HttpRequestMessage Act(string action, string? cookie = null, string? csrf = null, string? origin = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/ui/api/canaries/test/podinfo/actions/{action}");
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        if (csrf is not null) request.Headers.Add("X-CSRF-Token", csrf);
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (bearer is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    [Fact]
    public async Task Dashboard_LocalDefaults_ViewWithoutTokenActOnlyWithSessionAndCsrfOrBearer()
    {
        var logs = new CollectingLoggers();
        await using var bed = await StartAsync(logs);
        using var http = Client(bed);
        var token = Token(bed);

        // Anyone on loopback may look; nobody without the token may act.
        var rows = await http.GetFromJsonAsync<JsonElement>("/ui/api/canaries");
        Assert.Equal("podinfo", rows[0].GetProperty("name").GetString());
        Assert.Equal(CanaryPhase.Initialized, rows[0].GetProperty("phase").GetString());
        var anonymous = await http.SendAsync(Act("promote"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("log in to act", await ErrorAsync(anonymous), StringComparison.Ordinal);

        // A wrong token is refused; the right one opens a session with an HttpOnly, SameSite=Strict cookie.
        var wrong = await http.PostAsJsonAsync("/ui/api/login", new { token = "not-the-token" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("the token was refused: wrong token", await ErrorAsync(wrong));
        var (cookie, csrf, login) = await LoginAsync(http, token);
        var flags = login.Headers.GetValues("Set-Cookie").Single().ToLowerInvariant();
        Assert.StartsWith("aviary-session=", flags, StringComparison.Ordinal);
        Assert.Contains("httponly", flags, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", flags, StringComparison.Ordinal);
        Assert.DoesNotContain(token, flags, StringComparison.Ordinal);

        // The cookie alone is not enough to change anything: the CSRF token must come with it, from this origin.
        var noCsrf = await http.SendAsync(Act("pause", cookie));
        Assert.Equal(HttpStatusCode.Forbidden, noCsrf.StatusCode);
        Assert.Equal("missing or wrong CSRF token (header X-CSRF-Token)", await ErrorAsync(noCsrf));
        var crossSite = await http.SendAsync(Act("pause", cookie, csrf, origin: "http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
        var unknown = await http.SendAsync(Act("explode", cookie, csrf));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal(0, bed.Events.Count(e => e.Contains("requested by", StringComparison.Ordinal)));

        var paused = await http.SendAsync(Act("pause", cookie, csrf, origin: Base(bed).GetLeftPart(UriPartial.Authority)));
        Assert.Equal(HttpStatusCode.Accepted, paused.StatusCode);
        Assert.Equal("the token holder via the dashboard", (await paused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("requestedBy").GetString());
        await Eventually.True(() => bed.Events.Any(e => e == "Canary podinfo.test paused by the token holder via the dashboard: no analysis until it is resumed"),
            describe: () => string.Join("\n", bed.Events));
        var shown = await http.GetFromJsonAsync<JsonElement>("/ui/api/canaries");
        Assert.True(shown[0].GetProperty("paused").GetBoolean());

        // A bearer token (a script, the CLI) needs no CSRF token: it is no ambient credential a page could borrow.
        var resumed = await http.SendAsync(Act("resume", bearer: token));
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        await Eventually.True(() => bed.Events.Any(e => e == "Canary podinfo.test resumed by the token holder via the dashboard"),
            describe: () => string.Join("\n", bed.Events));
        var badBearer = await http.SendAsync(Act("resume", bearer: "nope"));
        Assert.Equal(HttpStatusCode.Unauthorized, badBearer.StatusCode);

        // Logged out, the cookie is worth nothing.
        var logout = new HttpRequestMessage(HttpMethod.Post, "/ui/api/logout");
        logout.Headers.Add("Cookie", cookie);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(logout)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(Act("pause", cookie, csrf))).StatusCode);

        Assert.DoesNotContain(logs.Lines, l => l.Contains(token, StringComparison.Ordinal));
        Assert.NotEmpty(logs.Lines);
    }

    [Fact]
    public async Task Dashboard_ReadOnlyAndLoginFirst_RefuseOnTheServer()
    {
        await using var bed = await StartAsync(dashboard: new DashboardOptions { ReadOnly = true, Anonymous = AnonymousAccess.None });
        using var http = Client(bed);

        // Log in first: nothing is shown without the token (the page shell itself is only the login form's).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/ui/")).StatusCode);
        var list = await http.GetAsync("/ui/api/canaries");
        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.StartsWith("log in first, with the token in ", await ErrorAsync(list), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/ui/api/stream")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/ui/api/canaries/test/podinfo")).StatusCode);

        // Read-only: even the token holder, with a valid session and CSRF token, cannot act.
        var (cookie, csrf, _) = await LoginAsync(http, Token(bed));
        var session = new HttpRequestMessage(HttpMethod.Get, "/ui/api/session");
        session.Headers.Add("Cookie", cookie);
        var info = await (await http.SendAsync(session)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(info.GetProperty("readOnly").GetBoolean());
        var refused = await http.SendAsync(Act("abort", cookie, csrf));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("this dashboard is read-only: actions are turned off", await ErrorAsync(refused));
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(Act("abort", bearer: Token(bed)))).StatusCode);
        Assert.DoesNotContain(bed.Events, e => e.Contains("requested by", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dashboard_PageAndStream_ComeFromThisServerOnlyAndUpdateLive()
    {
        await using var bed = await StartAsync();
        using var http = Client(bed);

        Assert.Equal("/ui/", (await http.GetAsync("/")).Headers.Location?.ToString());
        var shell = await http.GetAsync("/ui/canaries/test/podinfo");
        var csp = string.Join(";", shell.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        // Nothing is loaded from elsewhere: the assets name no other host (the SVG namespace is a name, not a load).
        foreach (var asset in new[] { "/ui/", "/ui/assets/app.js", "/ui/assets/app.css", "/ui/assets/logo.svg" })
        {
            var text = await http.GetStringAsync(asset);
            Assert.DoesNotMatch(@"(https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", text.Replace("http://127.0.0.1", "", StringComparison.Ordinal));
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/ui/assets/secrets.txt")).StatusCode);

        // The stream sends the rows at once, then again when they change: here, after the canary is paused.
        using var stream = await http.GetStreamAsync("/ui/api/stream?canary=test/podinfo");
        using var reader = new StreamReader(stream);
        var first = await NextEventAsync(reader);
        Assert.Equal("canaries", first.Name);
        Assert.False(JsonDocument.Parse(first.Data).RootElement[0].GetProperty("paused").GetBoolean());
        var page = await NextEventAsync(reader);
        Assert.Equal("canary", page.Name);
        Assert.Equal("podinfo", JsonDocument.Parse(page.Data).RootElement.GetProperty("canary").GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(Act("pause", bearer: Token(bed)))).StatusCode);
        var changed = await Eventually.Until(() => NextEventAsync(reader),
            e => e.Name == "canaries" && JsonDocument.Parse(e.Data).RootElement[0].GetProperty("paused").GetBoolean(), what: "a paused row on the stream");
        Assert.Equal("canaries", changed.Name);
    }

    private static async Task<(string Name, string Data)> NextEventAsync(StreamReader reader)
    {
        string? name = null, data = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
            else if (line.Length == 0 && name is not null) return (name, data ?? "");
        }
        throw new InvalidOperationException("the stream ended");
    }

    /// <summary>Every log line the controller writes, to show what never appears in one.</summary>
    private sealed class CollectingLoggers : ILoggerFactory, ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue($"{formatter(state, exception)} {exception}");

        public void Dispose()
        {
        }
    }
}

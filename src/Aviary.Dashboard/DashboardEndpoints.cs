using System.Text;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Core.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Aviary.Dashboard;

/// <summary>
/// The dashboard's HTTP surface, mapped by both runtimes onto their own Kestrel server:
/// <list type="bullet">
/// <item><c>/ui/</c> and <c>/ui/canaries/NS/NAME</c>: the page (one HTML shell, its script and style embedded in this assembly);</item>
/// <item><c>GET /ui/api/session</c>, <c>POST /ui/api/login</c> and <c>/ui/api/logout</c>: who is looking, and the session cookie;</item>
/// <item><c>GET /ui/api/canaries[/NS/NAME]</c>: the overview's rows and a canary's page, as JSON;</item>
/// <item><c>GET /ui/api/stream[?canary=NS/NAME]</c>: the same, as server-sent events whenever they change;</item>
/// <item><c>POST /ui/api/canaries/NS/NAME/actions/ACTION</c>: promote, abort, retry, pause, resume.</item>
/// </list>
/// A request is someone's when it carries <c>Authorization: Bearer TOKEN</c> or the session cookie (HttpOnly,
/// SameSite=Strict); a state-changing call with the cookie must also carry its session's CSRF token in
/// <c>X-CSRF-Token</c>. Every request is authorised by <see cref="IDashboardAccess"/>; refusals are JSON
/// <c>{"error": …}</c> with 401 or 403 and the reason.
/// </summary>
public sealed class DashboardEndpoints
{
    private const string CsrfHeader = "X-CSRF-Token";
    private readonly IDashboardSource _source;
    private readonly IDashboardAccess _access;
    private readonly DashboardOptions _options;
    private readonly TimeProvider _time;
    private readonly DashboardSessions _sessions;

    public DashboardEndpoints(IDashboardSource source, IDashboardAccess access, DashboardOptions options, TimeProvider time)
    {
        _source = source;
        _access = access;
        _options = options;
        _time = time;
        _sessions = new DashboardSessions(time, options.SessionIdleTimeout);
    }

    /// <summary>Maps the dashboard on <paramref name="app"/>; <c>/</c> redirects to it.</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect("/ui/"));
        app.MapGet("/ui/", Shell);
        app.MapGet("/ui/canaries/{ns}/{name}", Shell);
        app.MapGet("/ui/assets/{file}", (string file, HttpContext context) => Asset(file, context));
        app.MapGet("/ui/api/session", (Delegate)SessionAsync);
        app.MapPost("/ui/api/login", (Delegate)LoginAsync);
        app.MapPost("/ui/api/logout", Logout);
        app.MapGet("/ui/api/canaries", (Delegate)OverviewAsync);
        app.MapGet("/ui/api/canaries/{ns}/{name}", (Delegate)PageAsync);
        app.MapGet("/ui/api/stream", StreamAsync);
        app.MapPost("/ui/api/canaries/{ns}/{name}/actions/{action}", (Delegate)ActAsync);
    }

    private static IResult Shell(HttpContext context) => Asset("index.html", context);

    private static IResult Asset(string file, HttpContext context)
    {
        var type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => null,
        };
        var bytes = type is null ? null : Assets.Get(file);
        if (bytes is null) return Error(404, $"no asset '{file}'");
        Secure(context.Response);
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(bytes, type);
    }

    /// <summary>Nothing from elsewhere: scripts, styles and connections are this server's only.</summary>
    private static void Secure(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XFrameOptions = "DENY";
    }

    /// <summary>Who the request is from: a bearer token, a session, or nobody.</summary>
    private async Task<Caller> CallerAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var (user, error) = await _access.AuthenticateAsync(header[7..].Trim(), context.RequestAborted);
            return user is null ? new Caller(null, null, $"the bearer token was refused: {error}") : new Caller(user, null, null);
        }
        var session = _sessions.Find(context.Request.Cookies[DashboardSessions.Cookie]);
        return new Caller(session?.User, session, null);
    }

    private sealed record Caller(DashboardUser? User, DashboardSession? Session, string? Refused);

    /// <summary>Null when <paramref name="caller"/> may look at <paramref name="ns"/>/<paramref name="name"/> (or list); else the refusal.</summary>
    private async Task<IResult?> MayViewAsync(Caller caller, string? ns, string? name, CancellationToken ct)
    {
        if (caller.Refused is { } refused) return Error(401, refused);
        if (caller.User is null)
            return _options.Anonymous == AnonymousAccess.View ? null : Error(401, $"log in first, with {_access.TokenHint}");
        var decision = await _access.AuthorizeAsync(caller.User, DashboardVerb.View, ns, name, ct);
        return decision.Allowed ? null : Error(403, decision.Reason);
    }

    private async Task<IResult> SessionAsync(HttpContext context)
    {
        var caller = await CallerAsync(context);
        Secure(context.Response);
        context.Response.Headers.CacheControl = "no-store";
        return Json(new
        {
            user = caller.User?.Name,
            csrf = caller.Session?.Csrf,
            readOnly = _options.ReadOnly,
            anonymous = _options.Anonymous.ToString().ToLowerInvariant(),
            runtime = _options.Runtime,
            tokenHint = _access.TokenHint,
        });
    }

    private sealed record LoginRequest(string? Token);

    private async Task<IResult> LoginAsync(HttpContext context)
    {
        if (!SameOrigin(context)) return Error(403, "cross-origin login refused");
        LoginRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<LoginRequest>(context.Request.Body, ModelJson.Options, context.RequestAborted);
        }
        catch (JsonException e)
        {
            return Error(400, $"the body must be JSON {{\"token\": \"…\"}}: {e.Message}");
        }
        if (body?.Token is not { Length: > 0 and <= 16384 } token) return Error(400, "token: required, at most 16384 characters");
        var (user, error) = await _access.AuthenticateAsync(token, context.RequestAborted);
        if (user is null) return Error(401, $"the token was refused: {error}");
        var view = await _access.AuthorizeAsync(user, DashboardVerb.View, null, null, context.RequestAborted);
        var session = _sessions.Create(user);
        context.Response.Cookies.Append(DashboardSessions.Cookie, session.Id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
        });
        return Json(new { user = user.Name, csrf = session.Csrf, mayList = view.Allowed, reason = view.Allowed ? null : view.Reason });
    }

    private IResult Logout(HttpContext context)
    {
        if (!SameOrigin(context)) return Error(403, "cross-origin logout refused");
        _sessions.Remove(context.Request.Cookies[DashboardSessions.Cookie]);
        context.Response.Cookies.Delete(DashboardSessions.Cookie, new CookieOptions { Path = "/" });
        return Json(new { user = (string?)null });
    }

    private async Task<IResult> OverviewAsync(HttpContext context, string? @namespace)
    {
        var caller = await CallerAsync(context);
        return await Answer(async () =>
        {
            var (rows, refusal) = await RowsAsync(caller, @namespace, context.RequestAborted);
            return refusal ?? Json(rows!);
        });
    }

    /// <summary>A runtime that cannot answer (its store, the API server) is a 502 saying why, never a stack trace.</summary>
    private static async Task<IResult> Answer(Func<Task<IResult>> answer)
    {
        try
        {
            return await answer();
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            return Error(502, $"the runtime could not answer: {e.Message}");
        }
    }

    private async Task<(IReadOnlyList<CanaryRow>? Rows, IResult? Refusal)> RowsAsync(Caller caller, string? ns, CancellationToken ct)
    {
        if (caller.Refused is not null || caller.User is null)
        {
            if (await MayViewAsync(caller, ns, null, ct) is { } refused) return (null, refused);
        }
        var all = await _source.ListAsync(ct);
        var rows = new List<CanaryRow>();
        var decided = new Dictionary<string, IResult?>(StringComparer.Ordinal);
        foreach (var c in all.Where(c => string.IsNullOrEmpty(ns) || c.Namespace == ns).OrderBy(c => c.Namespace, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal))
        {
            if (!decided.TryGetValue(c.Namespace, out var refusal))
                decided[c.Namespace] = refusal = await MayViewAsync(caller, c.Namespace, null, ct);
            if (refusal is null) rows.Add(DashboardViews.Row(c, c.LastCheck));
        }
        // Someone who may see none of the canaries there are is told why, rather than shown an empty list.
        if (rows.Count == 0 && decided.Count > 0 && decided.Values.All(r => r is not null)) return (null, decided.Values.First());
        return (rows, null);
    }

    private async Task<IResult> PageAsync(HttpContext context, string ns, string name)
    {
        var caller = await CallerAsync(context);
        if (await MayViewAsync(caller, ns, name, context.RequestAborted) is { } refused) return refused;
        return await Answer(async () =>
        {
            var page = await PageOfAsync(ns, name, context.RequestAborted);
            return page is null ? Error(404, $"canary {ns}/{name} not found") : Json(page);
        });
    }

    private async Task<CanaryPage?> PageOfAsync(string ns, string name, CancellationToken ct)
    {
        var snapshot = (await _source.ListAsync(ct)).FirstOrDefault(c => c.Namespace == ns && c.Name == name);
        if (snapshot is null) return null;
        var history = await _source.HistoryAsync(ns, name, ct);
        return history is null ? null : DashboardViews.Page(snapshot, history);
    }

    /// <summary>
    /// Server-sent events: <c>canaries</c> (the overview's rows) and, with <c>?canary=NS/NAME</c>, <c>canary</c> (its
    /// page), each sent at once and again whenever it changes; <c>refused</c> once access ends (e.g. the session expired).
    /// </summary>
    private async Task StreamAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        var caller = await CallerAsync(context);
        var ns = context.Request.Query["namespace"].ToString();
        var canary = context.Request.Query["canary"].ToString();
        string? cns = null, cname = null;
        if (canary.Length > 0)
        {
            var slash = canary.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == canary.Length - 1)
            {
                await Error(400, $"canary '{canary}' is not NAMESPACE/NAME").ExecuteAsync(context);
                return;
            }
            (cns, cname) = (canary[..slash], canary[(slash + 1)..]);
        }
        if (await MayViewAsync(caller, cns, cname, ct) is { } refused)
        {
            await refused.ExecuteAsync(context);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        string? lastRows = null, lastPage = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (caller.Session is { } s && _sessions.Find(s.Id) is null)
                {
                    await SendAsync(context, "refused", "{\"error\":\"the session ended; log in again\"}", ct);
                    return;
                }
                try
                {
                    var (rows, _) = await RowsAsync(caller, ns, ct);
                    var rowsJson = JsonSerializer.Serialize(rows ?? [], ModelJson.Options);
                    if (rowsJson != lastRows) await SendAsync(context, "canaries", lastRows = rowsJson, ct);
                    if (cns is not null)
                    {
                        var page = await PageOfAsync(cns, cname!, ct);
                        var pageJson = page is null ? "null" : JsonSerializer.Serialize(page, ModelJson.Options);
                        if (pageJson != lastPage) await SendAsync(context, "canary", lastPage = pageJson, ct);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException and not IOException)
                {
                    // The runtime could not answer this time (the API server restarting): say so, and look again.
                    await SendAsync(context, "unavailable", JsonSerializer.Serialize(new { error = e.Message }), ct);
                }
                await Task.Delay(_options.StreamInterval, _time, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private static async Task SendAsync(HttpContext context, string name, string data, CancellationToken ct)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data}\n\n", Encoding.UTF8, ct);
        await context.Response.Body.FlushAsync(ct);
    }

    private async Task<IResult> ActAsync(HttpContext context, string ns, string name, string action)
    {
        if (_options.ReadOnly) return Error(403, "this dashboard is read-only: actions are turned off");
        if (!ManualAction.TryParse(action, out var kind))
            return Error(400, $"unknown action '{action}': use promote, abort, retry, pause or resume");
        var caller = await CallerAsync(context);
        if (caller.Refused is { } refused) return Error(401, refused);
        if (caller.User is not { } user) return Error(401, $"log in to act, with {_access.TokenHint}");
        if (caller.Session is { } session)
        {
            if (!SameOrigin(context)) return Error(403, "cross-origin request refused");
            var csrf = context.Request.Headers[CsrfHeader].ToString();
            if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(csrf), Encoding.UTF8.GetBytes(session.Csrf)))
                return Error(403, $"missing or wrong CSRF token (header {CsrfHeader})");
        }
        var decision = await _access.AuthorizeAsync(user, DashboardVerb.Act, ns, name, context.RequestAborted);
        if (!decision.Allowed) return Error(403, decision.Reason);
        var who = $"{user.Name} via the dashboard";
        var outcome = await _source.RequestAsync(ns, name, new ManualAction(kind, who, _time.GetUtcNow()), context.RequestAborted);
        return outcome.Status == 202
            ? Json(new { canary = $"{ns}/{name}", action = kind.ToString().ToLowerInvariant(), requestedBy = who, message = outcome.Message }, 202)
            : Error(outcome.Status, outcome.Message);
    }

    /// <summary>A browser's state-changing request must come from this origin (or say nothing, as non-browser clients do).</summary>
    private static bool SameOrigin(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        return Uri.TryCreate(origin, UriKind.Absolute, out var o) &&
            string.Equals(o.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static IResult Json(object value, int status = 200) => Results.Json(value, ModelJson.Options, statusCode: status);

    private static IResult Error(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    /// <summary>The embedded page assets, read once.</summary>
    private static class Assets
    {
        private static readonly Dictionary<string, byte[]> Cache = Load();

        public static byte[]? Get(string file) => Cache.GetValueOrDefault(file);

        private static Dictionary<string, byte[]> Load()
        {
            var assembly = typeof(DashboardEndpoints).Assembly;
            var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith("aviary.dashboard/", StringComparison.Ordinal)))
            {
                using var stream = assembly.GetManifestResourceStream(resource)!;
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                files[resource["aviary.dashboard/".Length..]] = copy.ToArray();
            }
            return files;
        }
    }
}

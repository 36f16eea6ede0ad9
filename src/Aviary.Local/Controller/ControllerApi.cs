using Aviary.Core.Primitives;
using System.Net;
using System.Text;
using Aviary.Core.Manifests;
using Scheduling = Aviary.Core.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aviary.Local.Controller;

/// <summary>
/// The controller's HTTP API, on loopback by default. <c>/healthz</c> and <c>/metrics</c> are open (read-only);
/// everything under <c>/api</c> needs <c>Authorization: Bearer TOKEN</c> with the token from the state directory.
/// The dashboard (<c>/ui/</c>, <see cref="Aviary.Dashboard.DashboardEndpoints"/>) takes the same token.
/// </summary>
internal sealed class ControllerApi(
    LocalController controller, string token, Aviary.Dashboard.DashboardOptions? dashboard, TimeProvider time, ILoggerFactory loggers) : IAsyncDisposable
{
    private WebApplication? _app;

    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    public async Task StartAsync(string address, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        // The controller owns the process's signals (Ctrl-C, SIGTERM); the API must not stop on them by itself.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, Aviary.Hooks.Hosting.EmbeddedLifetime>();
        builder.WebHost.UseKestrel(k =>
        {
            var (host, port) = Parse(address);
            k.Listen(host, port);
        });
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/metrics", () =>
        {
            var writer = new Core.Observability.PrometheusWriter();
            controller.Metrics.Write(writer);
            var text = new StringWriter(writer.Text);
            controller.Router.WriteMetrics(text);
            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        });
        var api = app.MapGroup("/api/v1").AddEndpointFilter(async (context, next) =>
            Authorized(context.HttpContext) ? await next(context) : Results.Json(new { error = "missing or wrong token" }, statusCode: 401));
        StateApi.Map(api, controller.Store);
        api.MapPost("/manifests", (Delegate)ApplyAsync);
        api.MapPost("/canaries/{ns}/{name}/actions/{action}", (string ns, string name, string action, HttpContext context) =>
        {
            if (!Scheduling.ManualAction.TryParse(action, out var kind))
                return Results.Json(new { error = $"unknown action '{action}': use promote, abort, retry, pause or resume" }, statusCode: 400);
            var key = ManifestSnapshot.Key(name, ns);
            if (!controller.Running.Any(p => p.Id == key))
                return Results.Json(new { error = $"canary {ns}/{name} is not running in this controller" }, statusCode: 404);
            var who = context.Request.Headers["X-Aviary-Requested-By"].ToString();
            who = who.Length is > 0 and <= 200 ? $"{who} via the API" : $"an API client at {context.Connection.RemoteIpAddress}";
            controller.Request(key, new Scheduling.ManualAction(kind, who, controller.Now));
            return Results.Json(new { canary = key, action = kind.ToString().ToLowerInvariant(), requestedBy = who }, statusCode: 202);
        });
        if (dashboard is not null)
        {
            var access = new Aviary.Dashboard.SharedTokenAccess(token, $"the token in {Path.Combine(controller.StateDir, "token")} (the CLI's)");
            new Aviary.Dashboard.DashboardEndpoints(new LocalDashboardSource(controller), access, dashboard, time).Map(app);
        }
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        _app = app;
    }

    private async Task<IResult> ApplyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var yaml = await reader.ReadToEndAsync(context.RequestAborted);
        if (yaml.Length > 1_000_000) return Results.Json(new { error = "manifest larger than 1 MB" }, statusCode: 413);
        var file = ManifestReader.Read(yaml, "request");
        var errors = new List<string>();
        if (file.SyntaxError is { } syntax) errors.Add(syntax.ToString());
        errors.AddRange(file.Documents.SelectMany(d => d.Diagnostics.Where(x => x.IsError).Select(x => $"{d.Label}: {x}")));
        if (errors.Count > 0) return Results.Json(new { applied = Array.Empty<string>(), errors }, statusCode: 422);
        var applied = new List<string>();
        var appliedDir = controller.Source?.AppliedDir ?? Path.Combine(controller.StateDir, "applied");
        // Each document is stored on its own, so that a later apply of one object replaces only that object.
        // Relative paths of a Workload are relative to the file it came from, which the CLI names in this header.
        var baseDir = context.Request.Headers["X-Aviary-Base-Dir"].ToString();
        foreach (var doc in file.Documents.Where(d => !d.Skipped))
        {
            var manifest = doc.Manifest!;
            if (manifest is Core.Model.Workload w && baseDir.Length > 0 && Path.IsPathRooted(baseDir))
            {
                var dir = Path.GetFullPath(w.Spec.Template.WorkingDir ?? ".", baseDir);
                manifest = w with { Spec = w.Spec with { Template = w.Spec.Template with { WorkingDir = dir } } };
            }
            var json = System.Text.Json.JsonSerializer.Serialize(manifest, manifest.GetType(), ModelJson.Indented);
            ManifestSource.WriteApplied(appliedDir, doc, json);
            applied.Add(doc.Label);
        }
        controller.Sync();
        return Results.Json(new
        {
            applied,
            warnings = file.Documents.SelectMany(d => d.Diagnostics.Where(x => !x.IsError).Select(x => $"{d.Label}: {x}")),
        });
    }

    private bool Authorized(HttpContext context) => BearerToken.Matches(context.Request.Headers.Authorization.ToString(), token);

    private static (IPAddress Host, int Port) Parse(string address) =>
        ListenAddress.TryParse(address, out var a, out var error) ? (a.Host, a.Port) : throw new ControllerException($"--api {error}");

    public async ValueTask DisposeAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }
}

using System.Collections.Concurrent;
using Aviary.Metrics.Prometheus;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aviary.Metrics.Tests;

/// <summary>
/// A stand-in for Prometheus' HTTP API on 127.0.0.1 (Kestrel): records every request and answers what the test
/// says (by default the scalar 1). For what a real Prometheus cannot show: headers that arrive, errors, slowness.
/// </summary>
public sealed class FakePrometheus : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakePrometheus(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>Requests received: path, decoded <c>query</c> parameter, headers.</summary>
    public ConcurrentQueue<(string Path, string? Query, IHeaderDictionary Headers)> Requests { get; } = new();

    /// <summary>The requests other than the online check (<see cref="PrometheusClient.OnlineQuery"/>).</summary>
    public IEnumerable<(string Path, string? Query, IHeaderDictionary Headers)> QueryRequests => Requests.Where(r => r.Query != PrometheusClient.OnlineQuery);

    /// <summary>The answer to the online check, <c>vector(1)</c>: 1, as a real Prometheus answers it, unless a test says otherwise.</summary>
    public (int Status, string Body)? OnlineAnswer { get; set; }

    /// <summary>Status and body of the answers to other queries; a function of the query.</summary>
    public Func<string?, (int Status, string Body)> Answer { get; set; } = _ => (200, Scalar("1"));

    /// <summary>Delay before answering.</summary>
    public TimeSpan Delay { get; set; }

    public static string Scalar(string value) =>
        "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000.5,\"" + value + "\"]}}";

    public static string Vector(string value, string labels = "{}") =>
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":" + labels + ",\"value\":[1700000000.5,\"" + value + "\"]}]}}";

    public static async Task<FakePrometheus> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var fake = new FakePrometheus(app);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        fake.Url = new Uri(app.Urls.First());
        return fake;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var headers = new HeaderDictionary();
        foreach (var (key, value) in context.Request.Headers) headers[key] = value;
        string? query = context.Request.Query.TryGetValue("query", out var q) ? q.ToString() : null;
        Requests.Enqueue((context.Request.Path.Value ?? "", query, headers));
        if (Delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(Delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        var (status, body) = query == PrometheusClient.OnlineQuery ? OnlineAnswer ?? (200, Scalar("1")) : Answer(query);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

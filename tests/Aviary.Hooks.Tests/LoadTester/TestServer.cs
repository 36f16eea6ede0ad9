using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Tests.LoadTester;

/// <summary>A request as the test server saw it.</summary>
internal sealed record SeenRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, string ConnectionId);

/// <summary>A real Kestrel server on 127.0.0.1 and a free port that records what the load generator sends.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _perPath = new();
    private int _inFlight;
    private int _maxInFlight;
    private int _hits;

    private TestServer(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    /// <summary>Most requests the server handled at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Requests that reached a handler.</summary>
    public int Hits => Volatile.Read(ref _hits);

    public ConcurrentQueue<SeenRequest> Seen { get; } = new();

    public Uri Url(string path) => new(Address, path);

    public static async Task<TestServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new TestServer(app);
        server.Map(app);
        await app.StartAsync();
        server.Address = new Uri(app.Urls.Single());
        return server;
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref _hits);
            var now = Interlocked.Increment(ref _inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen) { }
            try
            {
                await next(context);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        });

        app.Map("/", () => "ok");
        app.Map("/slow", async () =>
        {
            await Task.Delay(20);
            return "slow";
        });
        app.Map("/sleep/{ms:int}", async (int ms, HttpContext context) =>
        {
            await Task.Delay(ms, context.RequestAborted);
            return "slept";
        });
        app.Map("/status/{code:int}", (int code) => Results.StatusCode(code));
        // Every n-th request to this path fails with 500.
        app.Map("/every/{n:int}", (int n, HttpContext context) =>
        {
            var count = _perPath.AddOrUpdate(context.Request.Path, 1, (_, c) => c + 1);
            return count % n == 0 ? Results.StatusCode(500) : Results.Ok();
        });
        app.Map("/big", () => Results.Text(new string('x', 10_000)));
        app.Map("/redirect", () => Results.Redirect("/"));
        app.Map("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            Seen.Enqueue(new SeenRequest(context.Request.Method, context.Request.Path, headers, body, context.Connection.Id));
            return "echo";
        });
    }

    /// <summary>A port nobody listens on: bound, then released.</summary>
    public static int ClosedPort() => Aviary.TestKit.FreePorts.Next();

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>
/// A real instance behind the proxy: Kestrel on 127.0.0.1 with a port chosen by the system. Every response carries
/// <c>X-Backend: name</c>. Paths: <c>/</c> (name), <c>/headers</c> (request headers, one per line), <c>/upload</c>
/// (length and SHA-256 of the body), <c>/download?size=N</c> (N deterministic bytes, streamed), <c>/chunked</c> (a
/// first chunk, then the rest after <see cref="Gate"/> opens), <c>/slow</c> (answers after <see cref="Gate"/> opens),
/// <c>/hang</c> (waits for the client to go away and reports it in <see cref="Aborted"/>), <c>/status/N</c>.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private TestBackend(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests received, in order: method, path and query, body length.</summary>
    public ConcurrentQueue<(string Method, string Target, long BodyLength, IHeaderDictionary Headers)> Received { get; } = new();

    /// <summary>Opened by the test to let <c>/slow</c> and <c>/chunked</c> finish.</summary>
    public TaskCompletionSource Gate { get; private set; } = NewSource();

    /// <summary>Completed when a <c>/slow</c> request arrived.</summary>
    public TaskCompletionSource SlowStarted { get; private set; } = NewSource();

    /// <summary>Completed when the client of a <c>/hang</c> request went away.</summary>
    public TaskCompletionSource Aborted { get; } = NewSource();

    /// <summary>What this backend received other than <paramref name="target"/>, for a failure message.</summary>
    public string Others(string target = "/") =>
        string.Join(", ", Received.Where(r => r.Target != target).Select(r => $"{r.Method} {r.Target} (User-Agent {r.Headers.UserAgent})")) is { Length: > 0 } others
            ? others : "nothing else";

    public void ResetGate()
    {
        Gate = NewSource();
        SlowStarted = NewSource();
    }

    public BackendEndpoint Endpoint(string? id = null) => new(id ?? Name, Address);

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<TestBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0);
            o.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var backend = new TestBackend(name, app);
        app.Run(backend.HandleAsync);
        await app.StartAsync();
        backend.Address = new Uri(app.Urls.First());
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = context.Request;
        var response = context.Response;
        response.Headers["X-Backend"] = Name;
        var path = request.Path.Value ?? "/";
        var headers = new HeaderDictionary();
        foreach (var (key, value) in request.Headers) headers[key] = value;

        if (path == "/upload")
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long length = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                length += read;
            }
            Received.Enqueue((request.Method, path + request.QueryString, length, headers));
            await response.WriteAsync($"{length} {Convert.ToHexString(sha.GetHashAndReset())}");
            return;
        }

        long bodyLength = 0;
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await request.Body.ReadAsync(buffer)) > 0) bodyLength += read;
        }
        Received.Enqueue((request.Method, path + request.QueryString, bodyLength, headers));

        switch (path)
        {
            case "/headers":
                var text = new StringBuilder();
                foreach (var (key, value) in request.Headers) text.Append(key).Append(": ").Append(value.ToString()).Append('\n');
                await response.WriteAsync(text.ToString());
                break;
            case "/download":
                var size = long.Parse(request.Query["size"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                response.ContentType = "application/octet-stream";
                var chunk = new byte[32 * 1024];
                for (long sent = 0; sent < size;)
                {
                    var n = (int)Math.Min(chunk.Length, size - sent);
                    for (var i = 0; i < n; i++) chunk[i] = Pattern(sent + i);
                    await response.Body.WriteAsync(chunk.AsMemory(0, n));
                    sent += n;
                }
                break;
            case "/chunked":
                await response.WriteAsync("first;");
                await response.Body.FlushAsync();
                await Gate.Task;
                await response.WriteAsync("second");
                break;
            case "/slow":
                SlowStarted.TrySetResult();
                await Gate.Task;
                await response.WriteAsync("slow " + Name);
                break;
            case "/hang":
                var aborted = new TaskCompletionSource();
                await using (context.RequestAborted.Register(() => aborted.TrySetResult()))
                {
                    await aborted.Task;
                }
                Aborted.TrySetResult();
                break;
            default:
                if (path.StartsWith("/status/", StringComparison.Ordinal))
                {
                    response.StatusCode = int.Parse(path["/status/".Length..], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                }
                response.ContentLength = Encoding.UTF8.GetByteCount(Name);
                await response.WriteAsync(Name);
                break;
        }
    }

    /// <summary>The byte at <paramref name="offset"/> of every download.</summary>
    public static byte Pattern(long offset) => (byte)((offset * 31 + (offset >> 11)) & 0xFF);

    public async ValueTask DisposeAsync()
    {
        Gate.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

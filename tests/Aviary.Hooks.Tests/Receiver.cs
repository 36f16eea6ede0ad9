using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Aviary.Hooks.Tests;

/// <summary>A request as the receiver saw it; <see cref="Target"/> is the request line's target (absolute through a proxy).</summary>
internal sealed record ReceivedRequest(string Method, string Path, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 and a free port (plain HTTP, or HTTPS with a self-signed certificate made here)
/// that records every request and answers as <see cref="Respond"/> says: by default 200 "ok".
/// </summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _closing = new();
    private readonly CancellationTokenSource _hold = new();
    private int _count;

    private Receiver(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>The answer to the n-th request (1-based): status and body; a null status holds the request until
    /// <see cref="Release"/> (then 200 without a body) or until the client gives up.</summary>
    public Func<int, ReceivedRequest, (int? Status, string Body)> Respond { get; set; } = (_, _) => (200, "ok");

    public Uri Url(string pathAndQuery) => new(Address, pathAndQuery);

    public static async Task<Receiver> StartAsync(bool https = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls();
        X509Certificate2? certificate = https ? SelfSigned() : null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null) listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        var receiver = new Receiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        receiver.Address = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path;
        var request = new ReceivedRequest(context.Request.Method, context.Request.Path, target, headers, buffer.ToArray());
        Requests.Enqueue(request);
        var (status, body) = Respond(Interlocked.Increment(ref _count), request);
        if (status is null)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closing.Token, _hold.Token);
            await Task.Delay(Timeout.Infinite, both.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        context.Response.StatusCode = status.Value;
        await context.Response.WriteAsync(body);
    }

    /// <summary>Lets every held request (and every later one told to hold) end.</summary>
    public void Release() => _hold.Cancel();

    /// <summary>A self-signed certificate for 127.0.0.1, as no client trusts.</summary>
    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    /// <summary>A port nobody listens on: bound, then released.</summary>
    public static int ClosedPort() => Aviary.TestKit.FreePorts.Next();

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _closing.Dispose();
        _hold.Dispose();
    }
}

/// <summary>A clock standing at a given instant.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A logger that keeps every line, to check what logs say (and do not say).</summary>
internal sealed class RecordingLogger : ILogger, ILoggerProvider, ILoggerFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public string Text => string.Join("\n", Lines);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }
}

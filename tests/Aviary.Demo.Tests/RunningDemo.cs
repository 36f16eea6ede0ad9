using Microsoft.AspNetCore.Builder;

namespace Aviary.Demo.Tests;

/// <summary>The real demo service, in-process on 127.0.0.1 and a free port, with a client pointed at it.</summary>
internal sealed class RunningDemo : IAsyncDisposable
{
    private RunningDemo(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public static async Task<RunningDemo> StartAsync(DemoOptions options, TimeProvider? time = null, Random? random = null)
    {
        var app = DemoApp.Build(options with { Port = 0, Bind = "127.0.0.1", LogLevel = Microsoft.Extensions.Logging.LogLevel.None }, time, random);
        await app.StartAsync(CancellationToken.None);
        return new RunningDemo(app, new Uri(app.Urls.Single()));
    }

    public static Task<RunningDemo> StartAsync() => StartAsync(new DemoOptions());

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}

/// <summary>A clock that moves only when told to, for readiness delays.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(Interlocked.Read(ref _ticks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging.Console;

namespace Aviary.Demo;

/// <summary>Entry points of the demo service: build it in-process (tests) or run it as a process.</summary>
public static class DemoApp
{
    /// <summary>Exit code for invalid flags or environment variables.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code when the service cannot start (for example, the port is taken).</summary>
    public const int StartFailureExitCode = 1;

    /// <summary>The logger category of the service's own lines.</summary>
    public const string LogCategory = "Aviary.Demo";

    /// <summary>
    /// Parses <paramref name="args"/> over the process's <c>DEMO_*</c> environment variables and builds the service.
    /// Throws <see cref="ArgumentException"/> on invalid flags (the process entry point reports them instead).
    /// </summary>
    public static WebApplication Build(string[] args)
    {
        var parsed = DemoCommandLine.Parse(args, Environment.GetEnvironmentVariable);
        if (parsed.Options is null) throw new ArgumentException(parsed.Error ?? "help requested", nameof(args));
        return Build(parsed.Options);
    }

    /// <summary>
    /// Builds the service, not yet started. <paramref name="timeProvider"/> (default system) times readiness and the
    /// injected latency; <paramref name="random"/> (default: seeded from <see cref="DemoOptions.Seed"/>) drives the
    /// error rate and the jitter. After <c>StartAsync</c>, <c>app.Urls</c> holds the bound address (useful with port 0).
    /// </summary>
    public static WebApplication Build(DemoOptions options, TimeProvider? timeProvider = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var time = timeProvider ?? TimeProvider.System;
        var rng = random ?? (options.Seed is { } seed ? new Random(seed) : new Random());

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Addresses come from the flags only: ignore ASPNETCORE_URLS / ASPNETCORE_HTTP_PORTS of the environment.
        builder.WebHost.UseUrls();
        builder.WebHost.UseSetting("http_ports", "");
        builder.WebHost.UseSetting("https_ports", "");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (options.Bind == "localhost") kestrel.ListenLocalhost(options.Port);
            else kestrel.Listen(IPAddress.Parse(options.Bind), options.Port);
        });

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.IncludeScopes = false;
            console.UseUtcTimestamp = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        var frameworkLevel = options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning;
        builder.Logging.AddFilter("Microsoft", frameworkLevel);
        builder.Logging.AddFilter("System", frameworkLevel);
        // A failed start (port taken) is reported as one line by RunAsync; the host's own report is a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(new FaultInjector(options, rng));
        builder.Services.AddSingleton<ReadinessGate>();

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        var readiness = app.Services.GetRequiredService<ReadinessGate>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            readiness.MarkStarted();
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            Log.Listening(logger, options.Version, string.Join(", ", addresses));
        });
        app.Lifetime.ApplicationStopping.Register(() => Log.Stopping(logger, options.Version));
        app.Lifetime.ApplicationStopped.Register(() => Log.Stopped(logger, options.Version));

        DemoEndpoints.Map(app, options, time, logger);
        return app;
    }

    /// <summary>
    /// The process entry point: parses flags over <paramref name="environment"/>, runs until SIGTERM/SIGINT (or
    /// <paramref name="cancellationToken"/>), letting in-flight requests finish. Bad flags print one line to
    /// <paramref name="error"/> and return <see cref="UsageExitCode"/>; a failed start returns <see cref="StartFailureExitCode"/>.
    /// </summary>
    public static async Task<int> RunAsync(
        string[] args, Func<string, string?> environment, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var parsed = DemoCommandLine.Parse(args, environment);
        if (parsed.HelpRequested)
        {
            await output.WriteLineAsync(DemoCommandLine.Usage).ConfigureAwait(false);
            return 0;
        }
        if (parsed.Options is null)
        {
            await error.WriteLineAsync($"aviary-demo: {parsed.Error}").ConfigureAwait(false);
            return UsageExitCode;
        }

        await using var app = Build(parsed.Options);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await error.WriteLineAsync($"aviary-demo: cannot listen on {parsed.Options.Bind}:{parsed.Options.Port}: {FirstLine(e.Message)}")
                .ConfigureAwait(false);
            return StartFailureExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}

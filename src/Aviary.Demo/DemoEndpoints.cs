using System.Globalization;

namespace Aviary.Demo;

/// <summary>The demo's HTTP surface, podinfo-like.</summary>
internal static class DemoEndpoints
{
    /// <summary>Longest wait <c>/delay/{seconds}</c> accepts.</summary>
    private const double MaxDelaySeconds = 3600;

    public static void Map(WebApplication app, DemoOptions options, TimeProvider time, ILogger logger)
    {
        var faults = app.Services.GetRequiredService<FaultInjector>();
        var readiness = app.Services.GetRequiredService<ReadinessGate>();
        var info = new InfoResponse(
            Environment.MachineName,
            options.Version,
            options.Revision,
            options.Color,
            options.EffectiveMessage,
            "dotnet " + Environment.Version.ToString(),
            Environment.ProcessorCount,
            Environment.ProcessId);
        var json = DemoJsonContext.Default;

        // Any method: load tests may POST to the root.
        app.Map("/", async (HttpContext context) =>
        {
            var latency = faults.NextLatency();
            if (latency > TimeSpan.Zero && !await WaitAsync(latency, time, context.RequestAborted).ConfigureAwait(false))
                return Results.Empty;
            if (faults.ShouldFail())
            {
                Log.InjectedFault(logger, context.Request.Method, context.Request.Path);
                return Results.Json(new ErrorResponse(500, "injected fault"), json.ErrorResponse, statusCode: 500);
            }
            return Results.Json(info, json.InfoResponse);
        });

        app.MapGet("/version", () => Results.Json(new VersionResponse(options.Version, options.Revision), json.VersionResponse));

        app.Map("/status/{code}", (string code, HttpContext context) =>
        {
            if (!int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 200 or > 599)
                return Results.Json(new ErrorResponse(400, $"status must be an integer 200..599, got {code}"), json.ErrorResponse, statusCode: 400);
            // These statuses carry no body.
            if (status is 204 or 304 || HttpMethods.IsHead(context.Request.Method)) return Results.StatusCode(status);
            return Results.Json(new StatusResponse(status), json.StatusResponse, statusCode: status);
        });

        app.Map("/delay/{seconds}", async (string seconds, HttpContext context) =>
        {
            if (!double.TryParse(seconds, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var wait) || wait > MaxDelaySeconds)
                return Results.Json(new ErrorResponse(400, $"delay must be a number of seconds 0..{MaxDelaySeconds}, got {seconds}"), json.ErrorResponse, statusCode: 400);
            if (!await WaitAsync(TimeSpan.FromSeconds(wait), time, context.RequestAborted).ConfigureAwait(false))
                return Results.Empty;
            return Results.Json(new DelayResponse(wait), json.DelayResponse);
        });

        app.MapGet("/healthz", () => Results.Json(new HealthResponse("OK"), json.HealthResponse));

        app.MapGet("/readyz", () => readiness.IsReady
            ? Results.Json(new HealthResponse("OK"), json.HealthResponse)
            : Results.Json(new HealthResponse("not ready"), json.HealthResponse, statusCode: 503));
    }

    /// <summary>
    /// Waits unless the client goes away first (false then). Shutdown does not cut the wait short: in-flight
    /// requests finish, as a graceful stop promises.
    /// </summary>
    private static async Task<bool> WaitAsync(TimeSpan delay, TimeProvider time, CancellationToken requestAborted)
    {
        try
        {
            await Task.Delay(delay, time, requestAborted).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (requestAborted.IsCancellationRequested)
        {
            return false;
        }
    }
}

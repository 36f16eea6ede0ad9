using Aviary.Core.Primitives;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aviary.Hooks.Secrets;
using Aviary.Hooks.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Hooks.LoadTester;

/// <summary>
/// A load tester compatible with flagger-loadtester's HTTP API, for <c>aviary loadtester</c>.
/// <list type="bullet">
/// <item><c>POST /</c> (or any other path) with Flagger's webhook payload runs <c>metadata.cmd</c>: <c>type: cmd</c>
/// (the default) in the background, answering 202 at once and not starting a command again while the same canary's
/// same command runs; <c>type: bash</c> to its end, answering 200 (with the output when <c>returnCmdOutput</c> is
/// true) or 500 with the error. Other types (helm, helmv3, kubectl, concord, ngrinder, …) answer 400.</item>
/// <item>Commands run only programs of <see cref="LoadTesterOptions.AllowedPrograms"/>, split into words but never given
/// to a shell, unless <see cref="LoadTesterOptions.EnableBash"/> runs <c>type: bash</c> ones with <c>bash -c</c>; a
/// <c>hey</c> command may run in-process on <see cref="LoadGenerator"/>, its output being hey's summary.</item>
/// <item>Gates, per canary <c>name.namespace</c>: <c>/gate/approve</c> (200), <c>/gate/halt</c> (403),
/// <c>/gate/check</c> (200 when open, 403 when closed, the default), <c>/gate/open</c>, <c>/gate/close</c>, and the
/// same for <c>/rollback/…</c>; open and close answer 202. Unlike Flagger's, their state survives a restart when
/// <see cref="LoadTesterOptions.StateDirectory"/> is set.</item>
/// <item>With a token, every call but <c>/healthz</c> needs <c>Authorization: Bearer &lt;token&gt;</c> or an Aviary
/// webhook signature made with the token as secret, else 401. The token is never logged.</item>
/// </list>
/// </summary>
public sealed partial class LoadTesterServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    private readonly LoadTesterOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly Func<string, string?> _environment;
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private GateStore? _gates;
    private CommandRunner? _runner;
    private byte[]? _token;
    private string? _tokenText;
    private Regex? _namespaces;
    private long _executions;
    private bool _started;

    /// <param name="options">What to serve; see <see cref="LoadTesterOptions"/>.</param>
    /// <param name="loggers">Where logs go; none by default.</param>
    /// <param name="time">The clock for signatures and the built-in generator; the system's by default.</param>
    /// <param name="environment">Reads environment variables (the token's); the process environment by default.</param>
    public LoadTesterServer(LoadTesterOptions options, ILoggerFactory? loggers = null, TimeProvider? time = null, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid load tester options: " + string.Join("; ", errors), nameof(options));
        _options = options;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger("Aviary.LoadTester");
        _time = time ?? TimeProvider.System;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:9090/</c>; null before <see cref="StartAsync"/>.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Commands started since the server started (Flagger's total execs).</summary>
    public long TotalExecutions => Interlocked.Read(ref _executions);

    /// <summary>Background (<c>type: cmd</c>) commands running now.</summary>
    public int RunningCommands => _running.Count;

    /// <summary>
    /// Reads the token and the gate state, then starts listening. Throws <see cref="InvalidOperationException"/> when the
    /// token is configured but unreadable or the state file is corrupt, and <see cref="IOException"/> when the port is taken.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_started) throw new InvalidOperationException("a load tester starts once; make a new one to start again");
        _started = true;
        if (SecretSetting.TryRead(_options.TokenFile, _options.TokenEnvironmentVariable, _environment, "load tester token", out var token))
        {
            _tokenText = token;
            _token = Encoding.UTF8.GetBytes(token);
        }
        _gates = GateStore.Open(_options.StateDirectory);
        _runner = new CommandRunner(_options, _time, string.IsNullOrEmpty(_options.TokenFile) ? _options.TokenEnvironmentVariable : null);
        _namespaces = _options.NamespacePattern is { } pattern ? new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1)) : null;

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = _options.MaxRequestBodyBytes;
            switch (_options.BindAddress)
            {
                case "localhost":
                    kestrel.ListenLocalhost(_options.Port);
                    break;
                case "*":
                    kestrel.ListenAnyIP(_options.Port);
                    break;
                default:
                    kestrel.Listen(IPAddress.Parse(_options.BindAddress), _options.Port);
                    break;
            }
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        Address = new Uri(app.Urls.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        LogListening(_logger, Address.ToString(), _token is not null, _options.StateDirectory ?? "memory");
    }

    /// <summary>Stops listening and kills the commands still running, waiting for them to end.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var app = _app;
        if (app is null) return;
        _app = null;
        try
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_running.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts, serves until <paramref name="cancellationToken"/> is cancelled, then stops.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromMinutes(1), _time);
        await StopAsync(grace.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (path == "/healthz")
        {
            await Answer(context, StatusCodes.Status200OK, "OK").ConfigureAwait(false);
            return;
        }

        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e)
        {
            await Answer(context, e.StatusCode, "reading the request body failed").ConfigureAwait(false);
            return;
        }

        if (!Authenticated(context.Request, body))
        {
            LogUnauthenticated(_logger, path, context.Connection.RemoteIpAddress?.ToString() ?? "?");
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Answer(context, StatusCodes.Status401Unauthorized, "Unauthorized").ConfigureAwait(false);
            return;
        }

        switch (path)
        {
            case "/gate/approve":
                await Answer(context, StatusCodes.Status200OK, "OK").ConfigureAwait(false);
                return;
            case "/gate/halt":
                await Answer(context, StatusCodes.Status403Forbidden, "Forbidden").ConfigureAwait(false);
                return;
            case "/gate/check" or "/gate/open" or "/gate/close" or "/rollback/check" or "/rollback/open" or "/rollback/close":
                await GateAsync(context, path, body).ConfigureAwait(false);
                return;
            default:
                await TaskAsync(context, body).ConfigureAwait(false);
                return;
        }
    }

    private bool Authenticated(HttpRequest request, byte[] body)
    {
        if (_token is null) return true;
        if (BearerToken.Matches(request.Headers.Authorization.ToString(), _tokenText)) return true;
        return WebhookSignature.Verify(_token,
            request.Headers[WebhookSignature.TimestampHeader].ToString(),
            request.Headers[WebhookSignature.SignatureHeader].ToString(),
            body, _time.GetUtcNow(), _options.SignatureTolerance);
    }

    private async Task GateAsync(HttpContext context, string path, byte[] body)
    {
        var payload = await ReadPayloadAsync(context, body).ConfigureAwait(false);
        if (payload is null || !await AllowedNamespaceAsync(context, payload).ConfigureAwait(false)) return;
        var canary = $"{payload.Name}.{payload.Namespace}";
        var rollback = path.StartsWith("/rollback/", StringComparison.Ordinal);
        var key = rollback ? "rollback." + canary : canary;
        var gates = _gates!;
        switch (path[(path.LastIndexOf('/') + 1)..])
        {
            case "check":
                var open = gates.IsOpen(key);
                LogGateCheck(_logger, rollback ? "rollback" : "gate", canary, open);
                await Answer(context, open ? StatusCodes.Status200OK : StatusCodes.Status403Forbidden, open ? "Approved" : "Forbidden").ConfigureAwait(false);
                return;
            case "open":
                gates.Set(key, true);
                LogGateChanged(_logger, rollback ? "rollback" : "gate", canary, "opened");
                await Answer(context, StatusCodes.Status202Accepted, "").ConfigureAwait(false);
                return;
            default:
                gates.Set(key, false);
                LogGateChanged(_logger, rollback ? "rollback" : "gate", canary, "closed");
                await Answer(context, StatusCodes.Status202Accepted, "").ConfigureAwait(false);
                return;
        }
    }

    private async Task TaskAsync(HttpContext context, byte[] body)
    {
        var payload = await ReadPayloadAsync(context, body).ConfigureAwait(false);
        if (payload is null || !await AllowedNamespaceAsync(context, payload).ConfigureAwait(false)) return;
        var canary = $"{payload.Name}.{payload.Namespace}";
        if (payload.Metadata is not { Count: > 0 } metadata)
        {
            await Answer(context, StatusCodes.Status400BadRequest, "metadata not found in payload").ConfigureAwait(false);
            return;
        }
        var type = metadata.GetValueOrDefault("type") is { Length: > 0 } t ? t : "cmd";
        if (type is not ("cmd" or "bash"))
        {
            await Answer(context, StatusCodes.Status400BadRequest, $"type {type} is not supported by Aviary's load tester (supported: cmd, bash)").ConfigureAwait(false);
            return;
        }
        if (metadata.GetValueOrDefault("cmd") is not { Length: > 0 } command)
        {
            await Answer(context, StatusCodes.Status400BadRequest, "cmd not found in metadata").ConfigureAwait(false);
            return;
        }
        var bash = type == "bash";
        if (!_runner!.TryPrepare(command, bash && _options.EnableBash, out var prepared, out var error))
        {
            LogRefused(_logger, canary, Hide(command), Hide(error));
            await Answer(context, StatusCodes.Status400BadRequest, error).ConfigureAwait(false);
            return;
        }

        if (bash)
        {
            var logOutput = ParseBool(metadata.GetValueOrDefault("logCmdOutput")) ?? true;
            var returnOutput = ParseBool(metadata.GetValueOrDefault("returnCmdOutput")) ?? false;
            Interlocked.Increment(ref _executions);
            var result = await RunAsync(canary, prepared, logOutput, _stopping.Token).ConfigureAwait(false);
            if (!result.Succeeded)
                await Answer(context, StatusCodes.Status500InternalServerError, result.Error ?? "command failed").ConfigureAwait(false);
            else
                await Answer(context, StatusCodes.Status200OK, returnOutput ? result.Output : "").ConfigureAwait(false);
            return;
        }

        var logCmdOutput = ParseBool(metadata.GetValueOrDefault("logCmdOutput")) ?? false;
        var runKey = canary + "\n" + command;
        // The entry is added before the command starts and removed just before its task completes, so a second
        // request sees it exactly while the command runs, and StopAsync, awaiting the task, sees it gone.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_running.TryAdd(runKey, done.Task))
        {
            LogSkipped(_logger, canary, Hide(command));
            await Answer(context, StatusCodes.Status202Accepted, "command already running").ConfigureAwait(false);
            return;
        }
        Interlocked.Increment(ref _executions);
        _ = Task.Run(() => RunInBackgroundAsync(done, runKey, canary, prepared, logCmdOutput), CancellationToken.None);
        await Answer(context, StatusCodes.Status202Accepted, "command started").ConfigureAwait(false);
    }

    private async Task RunInBackgroundAsync(TaskCompletionSource done, string runKey, string canary, PreparedCommand command, bool logOutput)
    {
        try
        {
            await RunAsync(canary, command, logOutput, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            _running.TryRemove(runKey, out _);
            done.SetResult();
        }
    }

    private async Task<CommandResult> RunAsync(string canary, PreparedCommand command, bool logOutput, CancellationToken cancellationToken)
    {
        LogStarting(_logger, canary, Hide(command.Text), command.Builtin is null ? "" : " (built-in generator)");
        CommandResult result;
        try
        {
            result = await _runner!.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A command's failure is reported, never thrown into the server.
        catch (Exception e)
#pragma warning restore CA1031
        {
            result = new CommandResult(false, "", $"command {command.Text} failed: {e.Message}");
        }
        if (result.Succeeded)
        {
            if (logOutput) LogOutput(_logger, canary, Hide(result.Output));
            LogFinished(_logger, canary, Hide(command.Text));
        }
        else
        {
            LogFailed(_logger, canary, Hide(result.Error ?? "failed"));
        }
        return result;
    }

    private static async Task<Payload?> ReadPayloadAsync(HttpContext context, byte[] body)
    {
        Payload? payload = null;
        try
        {
            payload = JsonSerializer.Deserialize<Payload>(body, Json);
        }
        catch (JsonException)
        {
        }
        if (payload is null)
        {
            await Answer(context, StatusCodes.Status400BadRequest, "decoding the request body failed").ConfigureAwait(false);
            return null;
        }
        return payload;
    }

    private async Task<bool> AllowedNamespaceAsync(HttpContext context, Payload payload)
    {
        if (_namespaces is null || _namespaces.IsMatch(payload.Namespace ?? "")) return true;
        await Answer(context, StatusCodes.Status403Forbidden, "Forbidden").ConfigureAwait(false);
        return false;
    }

    private static Task Answer(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        if (text.Length == 0) return Task.CompletedTask;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    /// <summary>Go's strconv.ParseBool; null when absent or not a boolean.</summary>
    private static bool? ParseBool(string? text) => text switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => null,
    };

    /// <summary>Removes the token from text about to be logged (a command may carry it to call the load tester).</summary>
    private string Hide(string text) => _tokenText is { Length: > 0 } token ? text.Replace(token, "***", StringComparison.Ordinal) : text;

    private sealed record Payload(string? Name, string? Namespace, string? Phase, string? Checksum, Dictionary<string, string>? Metadata);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "load tester listening on {Address} (token: {Authenticated}, gates in {State})")]
    private static partial void LogListening(ILogger logger, string address, bool authenticated, string state);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "call to {Path} from {Remote} refused: no valid token or signature")]
    private static partial void LogUnauthenticated(ILogger logger, string path, string remote);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "{Canary} task starting {Command}{How}")]
    private static partial void LogStarting(ILogger logger, string canary, string command, string how);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Information, Message = "{Canary} command finished {Command}")]
    private static partial void LogFinished(ILogger logger, string canary, string command);

    [LoggerMessage(EventId = 3205, Level = LogLevel.Warning, Message = "{Canary} {Error}")]
    private static partial void LogFailed(ILogger logger, string canary, string error);

    [LoggerMessage(EventId = 3206, Level = LogLevel.Information, Message = "{Canary} command output:\n{Output}")]
    private static partial void LogOutput(ILogger logger, string canary, string output);

    [LoggerMessage(EventId = 3207, Level = LogLevel.Information, Message = "{Canary} command skipped {Command} is already running")]
    private static partial void LogSkipped(ILogger logger, string canary, string command);

    [LoggerMessage(EventId = 3208, Level = LogLevel.Warning, Message = "{Canary} command refused {Command}: {Error}")]
    private static partial void LogRefused(ILogger logger, string canary, string command, string error);

    [LoggerMessage(EventId = 3209, Level = LogLevel.Information, Message = "{Canary} {Gate} {Action}")]
    private static partial void LogGateChanged(ILogger logger, string gate, string canary, string action);

    [LoggerMessage(EventId = 3210, Level = LogLevel.Information, Message = "{Canary} {Gate} check: approved {Approved}")]
    private static partial void LogGateCheck(ILogger logger, string gate, string canary, bool approved);
}

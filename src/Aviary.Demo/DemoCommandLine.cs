using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Aviary.Demo;

/// <summary>The outcome of reading the command line: options, a one-line error, or a request for help.</summary>
public sealed record DemoCommandLine(DemoOptions? Options, string? Error, bool HelpRequested)
{
    /// <summary>Usage text printed for <c>--help</c>.</summary>
    public const string Usage = """
        Usage: dotnet Aviary.Demo.dll [flags]

        A podinfo-like demo service with fault injection. Every flag can also be set with the
        environment variable shown (flags win).

          --port N              port to listen on, 0 for any free port (DEMO_PORT, default 9898)
          --bind ADDRESS        IP address or localhost to listen on (DEMO_BIND, default 127.0.0.1)
          --version V           version reported by GET / (DEMO_VERSION, default 1.0.0)
          --revision R          revision reported by GET / (DEMO_REVISION)
          --color C             color reported by GET / (DEMO_COLOR, default #34577c)
          --message M           message reported by GET / (DEMO_MESSAGE, default "greetings from podinfo vV")
          --error-rate F        fraction 0..1 of / requests answered with 500 (DEMO_ERROR_RATE, default 0)
          --latency D           latency added to / requests, e.g. 250ms or 250 (DEMO_LATENCY)
          --latency-jitter D    uniform spread ±D around the latency (DEMO_LATENCY_JITTER)
          --ready-delay D       /readyz answers 503 for D after startup (DEMO_READY_DELAY)
          --never-ready         /readyz always answers 503 (DEMO_NEVER_READY)
          --seed N              seed of the random source of errors and jitter (DEMO_SEED)
          --log-level L         trace|debug|info|warning|error|none (DEMO_LOG_LEVEL, default info)

        Endpoints: GET / · /version · /status/{code} · /delay/{seconds} · /healthz · /readyz
        """;

    private enum Kind { Text, Port, Rate, Duration, Flag, Seed, Level, Address }

    private sealed record Setting(string Flag, string Variable, Kind Kind, Func<DemoOptions, object, DemoOptions> Apply);

    private static readonly Setting[] Settings =
    [
        new("port", "DEMO_PORT", Kind.Port, (o, v) => o with { Port = (int)v }),
        new("bind", "DEMO_BIND", Kind.Address, (o, v) => o with { Bind = (string)v }),
        new("version", "DEMO_VERSION", Kind.Text, (o, v) => o with { Version = (string)v }),
        new("revision", "DEMO_REVISION", Kind.Text, (o, v) => o with { Revision = (string)v }),
        new("color", "DEMO_COLOR", Kind.Text, (o, v) => o with { Color = (string)v }),
        new("message", "DEMO_MESSAGE", Kind.Text, (o, v) => o with { Message = (string)v }),
        new("error-rate", "DEMO_ERROR_RATE", Kind.Rate, (o, v) => o with { ErrorRate = (double)v }),
        new("latency", "DEMO_LATENCY", Kind.Duration, (o, v) => o with { Latency = (TimeSpan)v }),
        new("latency-jitter", "DEMO_LATENCY_JITTER", Kind.Duration, (o, v) => o with { LatencyJitter = (TimeSpan)v }),
        new("ready-delay", "DEMO_READY_DELAY", Kind.Duration, (o, v) => o with { ReadyDelay = (TimeSpan)v }),
        new("never-ready", "DEMO_NEVER_READY", Kind.Flag, (o, v) => o with { NeverReady = (bool)v }),
        new("seed", "DEMO_SEED", Kind.Seed, (o, v) => o with { Seed = (int)v }),
        new("log-level", "DEMO_LOG_LEVEL", Kind.Level, (o, v) => o with { LogLevel = (LogLevel)v }),
    ];

    /// <summary>
    /// Reads flags (<c>--name value</c>, <c>--name=value</c>, one or two dashes; a boolean flag alone means true)
    /// over the <c>DEMO_*</c> environment variables read through <paramref name="environment"/>.
    /// </summary>
    public static DemoCommandLine Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);

        var options = new DemoOptions();
        foreach (var setting in Settings)
        {
            var raw = environment(setting.Variable);
            if (string.IsNullOrEmpty(raw)) continue;
            if (!TryConvert(setting.Kind, raw, out var value, out var why))
                return Fail($"invalid {setting.Variable}={raw}: {why}");
            options = setting.Apply(options, value);
        }

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help" or "-help") return new(null, null, true);
            if (!arg.StartsWith('-') || arg is "-" or "--")
                return Fail($"unexpected argument '{arg}' (flags look like --port 5000)");

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            string? inline = null;
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = body[(eq + 1)..];
                body = body[..eq];
            }

            var setting = Array.Find(Settings, s => s.Flag == body);
            if (setting is null) return Fail($"unknown flag --{body} (see --help)");

            string raw;
            if (inline is not null) raw = inline;
            else if (setting.Kind == Kind.Flag) raw = "true";
            else if (i + 1 < args.Count) raw = args[++i];
            else return Fail($"flag --{body} needs a value");

            if (!TryConvert(setting.Kind, raw, out var value, out var why))
                return Fail($"invalid --{body} '{raw}': {why}");
            options = setting.Apply(options, value);
        }

        return new(options, null, false);
    }

    private static DemoCommandLine Fail(string error) => new(null, error, false);

    private static bool TryConvert(Kind kind, string raw, out object value, out string why)
    {
        value = raw;
        why = "";
        switch (kind)
        {
            case Kind.Text:
                return true;
            case Kind.Address:
                if (raw == "localhost" || IPAddress.TryParse(raw, out _)) return true;
                why = "expected an IP address or localhost";
                return false;
            case Kind.Port:
                if (int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
                {
                    value = port;
                    return true;
                }
                why = "expected a port number 0..65535";
                return false;
            case Kind.Seed:
                if (int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed))
                {
                    value = seed;
                    return true;
                }
                why = "expected an integer";
                return false;
            case Kind.Rate:
                if (double.TryParse(raw, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var rate) && rate is >= 0 and <= 1)
                {
                    value = rate;
                    return true;
                }
                why = "expected a fraction between 0 and 1, e.g. 0.1";
                return false;
            case Kind.Duration:
                if (DemoDuration.TryParse(raw, out var duration))
                {
                    value = duration;
                    return true;
                }
                why = "expected a duration such as 250ms, 1.5s or a number of milliseconds";
                return false;
            case Kind.Flag:
                switch (raw.ToUpperInvariant())
                {
                    case "TRUE" or "1" or "YES":
                        value = true;
                        return true;
                    case "FALSE" or "0" or "NO":
                        value = false;
                        return true;
                    default:
                        why = "expected true or false";
                        return false;
                }
            case Kind.Level:
                LogLevel? level = raw.ToUpperInvariant() switch
                {
                    "TRACE" => LogLevel.Trace,
                    "DEBUG" => LogLevel.Debug,
                    "INFO" or "INFORMATION" => LogLevel.Information,
                    "WARN" or "WARNING" => LogLevel.Warning,
                    "ERROR" => LogLevel.Error,
                    "NONE" => LogLevel.None,
                    _ => null,
                };
                if (level is { } l)
                {
                    value = l;
                    return true;
                }
                why = "expected trace, debug, info, warning, error or none";
                return false;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }
}

using System.CommandLine;

namespace Aviary.Cli.Commands;

/// <summary>Options shared by the verbs that use a controller's state.</summary>
internal static class CommonOptions
{
    public static Option<string> State() => new("--state")
    {
        Description = "The controller's state directory (default: $AVIARY_STATE or .aviary).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AVIARY_STATE") is { Length: > 0 } s ? s : ".aviary",
    };

    public static Option<string> Output() => Output("text or json");

    public static Option<string> Output(string description)
    {
        var option = new Option<string>("--output", "-o") { Description = description, DefaultValueFactory = _ => "text" };
        option.AcceptOnlyFromAmong("text", "json");
        return option;
    }

    /// <summary><c>--metrics-server URL</c>: an absolute http(s) URL, else a parse error naming the option.</summary>
    public static Option<Uri?> MetricsServer(string description) => new("--metrics-server")
    {
        Description = description,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https") return uri;
            r.AddError($"--metrics-server '{text}' is not an http(s) URL such as http://prometheus:9090");
            return null;
        },
    };

    public static Option<string?> Namespace() => new("--namespace", "-n") { Description = "The canary's namespace (default: any)." };
}

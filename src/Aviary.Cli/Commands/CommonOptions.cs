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

    public static Option<string?> Namespace() => new("--namespace", "-n") { Description = "The canary's namespace (default: any)." };
}

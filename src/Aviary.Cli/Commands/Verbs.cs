using System.CommandLine;

namespace Aviary.Cli.Commands;

/// <summary>Every verb of the CLI.</summary>
internal static class Verbs
{
    public static IEnumerable<Command> All(CliIO io)
    {
        yield return Validate.ValidateCommand.Create(io);
        yield return Simulate.SimulateCommand.Create(io);
    }
}

using System.CommandLine;

namespace Aviary.Cli.Commands;

/// <summary>Every verb of the CLI.</summary>
internal static class Verbs
{
    public static IEnumerable<Command> All(CliIO io, TimeProvider time)
    {
        yield return Validate.ValidateCommand.Create(io);
        yield return Simulate.SimulateCommand.Create(io);
        yield return Run.RunCommand.Create(io, time);
        yield return Apply.ApplyCommand.Create(io);
        yield return Get.GetCommand.Create(io, time);
        yield return Describe.DescribeCommand.Create(io, time);
        yield return Events.EventsCommand.Create(io, time);
        yield return Demo.DemoCommand.Create(io, time);
        foreach (var control in Control.ControlCommands.Create(io)) yield return control;
        yield return LoadTester.LoadTesterCommand.Create(io, time);
        yield return Operator.OperatorCommand.Create(io, time);
    }
}

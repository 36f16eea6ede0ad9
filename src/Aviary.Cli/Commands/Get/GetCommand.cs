using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aviary.Core.Manifests;

namespace Aviary.Cli.Commands.Get;

/// <summary><c>aviary get canaries</c>: the seeds' table of canaries.</summary>
internal static class GetCommand
{
    public static Command Create(CliIO io)
    {
        var state = CommonOptions.State();
        var output = CommonOptions.Output();
        var canaries = new Command("canaries", """
            List canaries: namespace, name, status, weight and last transition time.

            Example:
              aviary get canaries
            """) { state, output };
        canaries.Aliases.Add("canary");
        canaries.SetAction(async (parse, ct) =>
        {
            using var reader = StateReader.Connect(io, parse.GetValue(state)!);
            if (reader is null || await reader.CanariesAsync(ct) is not { } rows) return 1;
            if (parse.GetValue(output) == "json")
            {
                io.Out.WriteLine(JsonSerializer.Serialize(rows.Select(r => new
                {
                    @namespace = r.Namespace,
                    name = r.Name,
                    status = r.Status,
                }), ModelJson.Indented));
                return 0;
            }
            var table = new List<string[]> { new[] { "NAMESPACE", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITIONTIME" } };
            table.AddRange(rows.Select(r => new[]
            {
                r.Namespace, r.Name, r.Status.Phase ?? "", r.Status.CanaryWeight.ToString(CultureInfo.InvariantCulture),
                r.Status.FailedChecks.ToString(CultureInfo.InvariantCulture),
                r.Status.LastTransitionTime?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "",
            }));
            Tables.Write(io.Out, table);
            return 0;
        });
        return new Command("get", "Display resources (canaries).") { canaries };
    }
}

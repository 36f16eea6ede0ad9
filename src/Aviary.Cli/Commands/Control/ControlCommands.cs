using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json;
using Aviary.Cli.Commands.Apply;

namespace Aviary.Cli.Commands.Control;

/// <summary>
/// <c>aviary promote|abort|retry|pause|resume NAME</c>: steer a rollout through the controller's API (authenticated
/// with the token in the state directory). The same actions map to the Kubernetes annotation <c>aviary.dev/action</c>.
/// </summary>
internal static class ControlCommands
{
    private static readonly (string Verb, string What)[] Actions =
    [
        ("promote", "Promote the canary at once: the current analysis step must pass, then the remaining steps and promotion gates are skipped."),
        ("abort", "Roll the canary back now."),
        ("retry", "Analyse the same failed revision again, without editing the workload."),
        ("pause", "Freeze the canary (like spec.suspend: true) until `aviary resume`."),
        ("resume", "Undo `aviary pause`."),
    ];

    public static IEnumerable<Command> Create(CliIO io) => Actions.Select(a => Create(io, a.Verb, a.What));

    private static Command Create(CliIO io, string verb, string what)
    {
        var name = new Argument<string>("name") { Description = "The canary's name." };
        var ns = new Option<string?>("--namespace", "-n") { Description = "The canary's namespace (default: default; on a cluster, the context's)." };
        var state = CommonOptions.State();
        var cluster = new Cluster.ClusterOptions();
        var command = new Command(verb, $"""
            {what}
            The request is recorded as an event with who asked; follow it with `aviary events --watch`.

            On a cluster (--kubeconfig, --context, or as `kubectl aviary {verb}`), the request is the Canary's
            aviary.dev/action annotation, patched with your own credentials: RBAC decides (patch on the canary).

            Example:
              aviary {verb} podinfo -n test
              kubectl aviary {verb} podinfo -n test --context prod
            """) { name, ns, state, cluster.Kubeconfig, cluster.Context };
        command.SetAction(async (parse, ct) =>
        {
            if (cluster.Active(parse))
            {
                using var kube = cluster.Connect(parse, io, verb);
                if (kube is null) return 1;
                Core.Scheduling.ManualAction.TryParse(verb, out var kind);
                return await Cluster.ClusterViews.ActAsync(io, kube, parse.GetValue(ns) ?? kube.Config.Namespace, parse.GetValue(name)!, kind, ct);
            }
            var client = ControllerClient.Connect(io, parse.GetValue(state)!);
            if (client is null) return 1;
            using (client)
            {
                var canary = parse.GetValue(name)!;
                var space = parse.GetValue(ns) ?? "default";
                using var content = new StringContent("");
                content.Headers.Add("X-Aviary-Requested-By", $"{Environment.UserName}@{Environment.MachineName} (aviary {verb})");
                var (status, body) = await client.PostAsync(
                    $"/api/v1/canaries/{Uri.EscapeDataString(space)}/{Uri.EscapeDataString(canary)}/actions/{verb}", content, ct);
                if (status is null) return 1;
                using var doc = JsonDocument.Parse(body.Length == 0 ? "{}" : body);
                if (status != 202)
                {
                    var error = doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : body;
                    await io.Error.WriteLineAsync($"aviary {verb}: {error}");
                    return 1;
                }
                await io.Out.WriteLineAsync($"{verb} of {space}/{canary} requested; it takes effect at the canary's next tick (aviary events --canary {canary} -n {space} --watch)");
                return 0;
            }
        });
        return command;
    }
}

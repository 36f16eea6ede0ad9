using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aviary.Core.Manifests;
using Aviary.Local.Controller;

namespace Aviary.Cli.Commands.Events;

/// <summary><c>aviary events [--watch]</c>: canary events, oldest first, like <c>kubectl get events</c>.</summary>
internal static class EventsCommand
{
    public static Command Create(CliIO io, TimeProvider time)
    {
        var state = CommonOptions.State();
        var output = CommonOptions.Output();
        var ns = CommonOptions.Namespace();
        var canary = new Option<string?>("--canary", "-c") { Description = "Only the events of this canary (name)." };
        var watch = new Option<bool>("--watch", "-w") { Description = "Keep printing new events until interrupted." };
        var command = new Command("events", """
            List canary events, oldest first; --watch keeps printing new ones.

            Example:
              aviary events --watch
              aviary events --canary podinfo -n test -o json
            With --kubeconfig/--context/-A (or as `kubectl aviary`), the canaries' Events of a cluster.
            """) { state, canary, ns, watch, output };
        var cluster = new Cluster.ClusterOptions();
        cluster.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            if (cluster.Active(parse))
            {
                using var kube = cluster.Connect(parse, io, "events");
                if (kube is null) return 1;
                return await Cluster.ClusterReads.EventsAsync(io, kube, cluster.Namespace(parse, ns, kube), parse.GetValue(canary),
                    parse.GetValue(output) == "json", parse.GetValue(watch), ct);
            }
            using var reader = StateReader.Connect(io, parse.GetValue(state)!);
            if (reader is null) return 1;
            CanaryView? record = null;
            if (parse.GetValue(canary) is { } name)
            {
                record = await reader.FindAsync(name, parse.GetValue(ns), ct);
                if (record is null) return 1;
            }
            var json = parse.GetValue(output) == "json";
            if (!json) io.Out.WriteLine("TIME       TYPE      CANARY               MESSAGE");
            long last = 0;
            do
            {
                if (await reader.EventsAsync(record, last, ct) is not { } events) return 1;
                foreach (var e in events)
                {
                    Print(io, e, json);
                    last = e.Id;
                }
                await io.Out.FlushAsync(ct);
                if (!parse.GetValue(watch)) break;
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), time, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            while (!ct.IsCancellationRequested);
            return 0;
        });
        return command;
    }

    private static void Print(CliIO io, EventView e, bool json)
    {
        if (json)
        {
            io.Out.WriteLine(JsonSerializer.Serialize(new
            {
                time = e.Time, type = e.Type.ToString(), reason = e.Reason, canary = e.Canary, message = e.Message,
            }, ModelJson.Options));
            return;
        }
        io.Out.WriteLine($"{e.Time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture),-10} {e.Type,-9} {e.Canary,-20} {e.Message}");
    }
}

using System.Text.Json;
using Aviary.Cli.Commands.Apply;
using Aviary.Core.Manifests;
using Aviary.Local.Controller;

namespace Aviary.Cli.Commands;

/// <summary>
/// Reads a controller's canaries, checks and events through its <c>/api/v1</c> (the same API the CLI writes through),
/// printing a clear message when there is no controller or no such canary.
/// </summary>
internal sealed class StateReader(ControllerClient client, CliIO io) : IDisposable
{
    public static StateReader? Connect(CliIO io, string stateDir) =>
        ControllerClient.Connect(io, stateDir) is { } client ? new StateReader(client, io) : null;

    public Task<List<CanaryView>?> CanariesAsync(CancellationToken ct) => client.GetAsync<List<CanaryView>>("/api/v1/canaries", ct);

    /// <summary>Finds a canary by name (and namespace); prints what is known when it is missing or ambiguous.</summary>
    public async Task<CanaryView?> FindAsync(string name, string? ns, CancellationToken ct)
    {
        if (await CanariesAsync(ct) is not { } all) return null;
        var matches = all.Where(c => c.Name == name && (ns is null || c.Namespace == ns)).ToList();
        if (matches.Count == 1) return matches[0];
        if (matches.Count > 1)
            await io.Error.WriteLineAsync($"canary {name} exists in several namespaces ({string.Join(", ", matches.Select(m => m.Namespace))}): pass --namespace");
        else
            await io.Error.WriteLineAsync($"canary {name}{(ns is null ? "" : $" in namespace {ns}")} not found; known: {(all.Count == 0 ? "none" : string.Join(", ", all.Select(c => $"{c.Namespace}/{c.Name}")))}");
        return null;
    }

    public Task<List<CheckView>?> ChecksAsync(CanaryView canary, int limit, CancellationToken ct) =>
        client.GetAsync<List<CheckView>>($"{Path(canary)}/checks?limit={limit}", ct);

    /// <summary>Events after <paramref name="after"/>, oldest first; of one canary, or of all when it is null.</summary>
    public Task<List<EventView>?> EventsAsync(CanaryView? canary, long after, CancellationToken ct) =>
        client.GetAsync<List<EventView>>(
            $"/api/v1/events?after={after}" + (canary is null ? "" : $"&canary={Uri.EscapeDataString($"{canary.Namespace}/{canary.Name}")}"), ct);

    private static string Path(CanaryView c) => $"/api/v1/canaries/{Uri.EscapeDataString(c.Namespace)}/{Uri.EscapeDataString(c.Name)}";

    public static string Age(DateTimeOffset time, DateTimeOffset now)
    {
        var age = now - time;
        if (age < TimeSpan.Zero) age = TimeSpan.Zero;
        return age.TotalSeconds < 120 ? $"{(int)age.TotalSeconds}s"
            : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }

    public void Dispose() => client.Dispose();
}

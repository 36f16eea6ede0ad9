using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Aviary.Local.Controller;

namespace Aviary.Cli.Commands.Apply;

/// <summary><c>aviary apply -f FILE</c>: hands manifests to a running controller (the local <c>kubectl apply</c>).</summary>
internal static class ApplyCommand
{
    public static Command Create(CliIO io)
    {
        var file = new Option<string>("--file", "-f") { Description = "The manifest file to apply ('-' for standard input).", Required = true };
        var state = CommonOptions.State();
        var command = new Command("apply", """
            Send manifests to the running controller, which validates them and uses them from now on, over the
            files it was started with. Changing a Workload this way starts a canary analysis, as
            `kubectl set image` does.

            Example:
              aviary apply -f podinfo-v2.yaml
            """) { file, state };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            string yaml;
            try
            {
                yaml = path == "-" ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(path, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await io.Error.WriteLineAsync($"{path}: cannot read: {e.Message}");
                return 1;
            }
            var client = ControllerClient.Connect(io, parse.GetValue(state)!);
            if (client is null) return 1;
            using (client)
            {
                using var content = new StringContent(yaml, Encoding.UTF8, "application/yaml");
                content.Headers.Add("X-Aviary-Base-Dir", path == "-" ? Environment.CurrentDirectory : Path.GetDirectoryName(Path.GetFullPath(path))!);
                var (status, body) = await client.PostAsync("/api/v1/manifests", content, ct);
                if (status is null) return 1;
                using var doc = JsonDocument.Parse(body);
                foreach (var w in doc.RootElement.TryGetProperty("warnings", out var ws) ? ws.EnumerateArray() : default)
                    await io.Error.WriteLineAsync($"{path}: warning: {w.GetString()}");
                if (status != 200)
                {
                    foreach (var e in doc.RootElement.TryGetProperty("errors", out var es) ? es.EnumerateArray() : default)
                        await io.Error.WriteLineAsync($"{path}: {e.GetString()}");
                    if (doc.RootElement.TryGetProperty("error", out var single)) await io.Error.WriteLineAsync($"{path}: {single.GetString()}");
                    return 1;
                }
                foreach (var a in doc.RootElement.GetProperty("applied").EnumerateArray())
                    await io.Out.WriteLineAsync($"{a.GetString()} applied");
                return 0;
            }
        });
        return command;
    }
}

/// <summary>Talks to a running controller found through its state directory (address and token).</summary>
internal sealed class ControllerClient(HttpClient http, CliIO io) : IDisposable
{
    public static ControllerClient? Connect(CliIO io, string stateDir)
    {
        var infoPath = Path.Combine(stateDir, "controller.json");
        if (!File.Exists(infoPath))
        {
            io.Error.WriteLine($"no controller is running with state {Path.GetFullPath(stateDir)}: start one with `aviary run -f MANIFESTS`");
            return null;
        }
        var info = JsonSerializer.Deserialize<ControllerInfo>(File.ReadAllText(infoPath));
        var token = ApiToken.Read(stateDir);
        if (info is null || token is null)
        {
            io.Error.WriteLine($"the controller state in {stateDir} is incomplete (controller.json or token missing)");
            return null;
        }
        var http = new HttpClient { BaseAddress = new Uri(info.Api), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ControllerClient(http, io);
    }

    public async Task<(int? Status, string Body)> PostAsync(string path, HttpContent content, CancellationToken ct)
    {
        try
        {
            using var response = await http.PostAsync(path, content, ct);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }
        catch (HttpRequestException e)
        {
            await io.Error.WriteLineAsync($"cannot reach the controller at {http.BaseAddress}: {e.Message} (is `aviary run` still running?)");
            return (null, "");
        }
    }

    /// <summary>GETs <paramref name="path"/> as JSON; on any failure prints why (the API's error, or the connection's) and returns null.</summary>
    public async Task<T?> GetAsync<T>(string path, CancellationToken ct) where T : class
    {
        try
        {
            using var response = await http.GetAsync(path, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode) return JsonSerializer.Deserialize<T>(body, Core.Manifests.ModelJson.Options);
            await io.Error.WriteLineAsync($"the controller refused {path}: {Error(body) ?? $"HTTP {(int)response.StatusCode}"}");
            return null;
        }
        catch (HttpRequestException e)
        {
            await io.Error.WriteLineAsync($"cannot reach the controller at {http.BaseAddress}: {e.Message} (is `aviary run` still running?)");
            return null;
        }
        catch (JsonException e)
        {
            await io.Error.WriteLineAsync($"the controller at {http.BaseAddress} answered {path} with JSON this CLI cannot read: {e.Message}");
            return null;
        }
    }

    private static string? Error(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose() => http.Dispose();
}

using System.Text.Json;
using Aviary.Local.Controller;
using Aviary.Local.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aviary.Cli.Tests.Local;

/// <summary>
/// Serves the controller's read API (<see cref="StateApi"/>, token required) over a state the test wrote, on loopback,
/// and writes <c>controller.json</c> and <c>token</c> as a controller does, so the CLI finds it: for views of states a
/// real rollout takes minutes to reach.
/// </summary>
internal sealed class StateApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StateApiServer(WebApplication app) => _app = app;

    public static async Task<StateApiServer> StartAsync(string stateDir, StateStore store)
    {
        var token = ApiToken.LoadOrCreate(Path.Combine(stateDir, "token"));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var api = app.MapGroup("/api/v1").AddEndpointFilter(async (context, next) =>
            context.HttpContext.Request.Headers.Authorization == $"Bearer {token}" ? await next(context) : Results.StatusCode(401));
        StateApi.Map(api, store);
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        File.WriteAllText(Path.Combine(stateDir, "controller.json"), JsonSerializer.Serialize(new ControllerInfo(Environment.ProcessId, url)));
        return new StateApiServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using Microsoft.Extensions.Hosting;

namespace Aviary.Hooks.Hosting;

/// <summary>
/// A host lifetime that ignores process signals, for an HTTP server embedded in a process that handles Ctrl-C and
/// SIGTERM itself (the local controller, the operator): the server stops when its owner stops it.
/// </summary>
public sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using System.Globalization;
using System.Runtime.InteropServices;
using Aviary.Core.Abstractions;
using Aviary.Routing.Proxy;
using Microsoft.Extensions.Logging;

// Usage: RouterHost --port N --primary URL --canary URL [--weights 90/10]
// Listens on 127.0.0.1:N with the built-in router, prints "READY <address>" and runs until SIGTERM or SIGINT.
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Option(string name) => options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");

var weights = (options.TryGetValue("weights", out var w) ? w : "90/10").Split('/');
var primaryWeight = int.Parse(weights[0], CultureInfo.InvariantCulture);
var canaryWeight = int.Parse(weights[1], CultureInfo.InvariantCulture);

using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
// Inline scheduling unless AVIARY_INLINE_SCHEDULING=0; run.sh also sets DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1.
var proxyOptions = new ProxyOptions { InlineScheduling = Environment.GetEnvironmentVariable("AVIARY_INLINE_SCHEDULING") != "0" };
await using var proxy = new ProxyServer(proxyOptions, loggerFactory, TimeProvider.System);
const string service = "bench.default";
proxy.SetEndpoints(service, BackendRole.Primary, [new BackendEndpoint("primary-0", new Uri(Option("primary")))]);
proxy.SetEndpoints(service, BackendRole.Canary, [new BackendEndpoint("canary-0", new Uri(Option("canary")))]);
proxy.SetRoute(service, new RouteConfig(new RouteWeights(primaryWeight, canaryWeight), [], 0, null));
var port = int.Parse(Option("port"), CultureInfo.InvariantCulture);
var outcome = await proxy.ListenAsync(new ServiceBinding(service, "default", "bench", port), CancellationToken.None);
if (!outcome.Succeeded)
{
    await Console.Error.WriteLineAsync(outcome.Error);
    return 1;
}

var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
Console.WriteLine($"READY {string.Join(' ', proxy.GetListenAddresses(service))}");
await stop.Task;

// Show what the router counted, as a cross-check of the split.
using var metrics = new StringWriter();
proxy.WriteMetrics(metrics);
foreach (var line in metrics.ToString().Split('\n'))
{
    if (line.StartsWith("aviary_router_requests_total", StringComparison.Ordinal) && !line.EndsWith(" 0", StringComparison.Ordinal))
        Console.WriteLine(line);
}
return 0;

using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Local.Routing;
using Aviary.Local.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.Contract;

/// <summary>The router contract for the built-in proxy, through the local runtime's <see cref="BuiltinRouter"/>.</summary>
public sealed class BuiltinRouterContractTests : RouterContract
{
    protected override string Provider => "builtin";

    protected override Task<IRouterUnderTest> StartRouterAsync(CanaryPolicy canary)
    {
        var directory = Directory.CreateTempSubdirectory("aviary-builtin-").FullName;
        var proxy = new ProxyServer(NullLoggerFactory.Instance, TimeProvider.System, seed: 7);
        var router = new PersistentRouter(new BuiltinRouter(proxy), StateStore.Open(Path.Combine(directory, "state.db")));
        return Task.FromResult<IRouterUnderTest>(new Builtin(router, proxy, directory, new Uri($"http://127.0.0.1:{canary.ServicePort}")));
    }

    private sealed class Builtin(PersistentRouter router, ProxyServer proxy, string directory, Uri address) : IRouterUnderTest
    {
        public IRouter Router => router;
        public IBackendRegistry Registry => proxy;

        public Uri Address => address;

        public Task SettleAsync() => Task.CompletedTask;

        public async ValueTask DisposeAsync()
        {
            await proxy.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Routing.HAProxy;
using Aviary.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aviary.Routing.Tests.Contract;

/// <summary>The router contract for <see cref="HAProxyRouter"/> in generate mode, with a real HAProxy.</summary>
public sealed class HAProxyRouterContractTests : RouterContract
{
    protected override string Provider => "haproxy";

    protected override Task<IRouterUnderTest> StartRouterAsync(CanaryPolicy canary)
    {
        DebianPackages.Ensure("haproxy");
        var directory = Directory.CreateTempSubdirectory("aviary-hx-").FullName;
        var router = new HAProxyRouter(new HAProxyOptions { StateDirectory = directory }, TimeProvider.System, NullLoggerFactory.Instance);
        return Task.FromResult<IRouterUnderTest>(new Generated(router, canary.Id, directory, new Uri($"http://127.0.0.1:{canary.ServicePort}")));
    }

    private sealed class Generated(HAProxyRouter router, string service, string directory, Uri address) : IRouterUnderTest
    {
        public IRouter Router => router;
        public IBackendRegistry Registry => router;
        public Uri Address => address;

        public async Task SettleAsync()
        {
            var flushed = await router.FlushAsync(service, CancellationToken.None);
            Assert.True(flushed.Succeeded, flushed.Error);
        }

        public async ValueTask DisposeAsync()
        {
            await router.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Model;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Flagger's session affinity: a client routed to the canary by weight gets a cookie and stays there.</summary>
public sealed class SessionAffinityTests
{
    private static readonly SessionAffinity Affinity = new()
    {
        CookieName = "flagger-cookie",
        PrimaryCookieName = "flagger-primary",
        Domain = "example.com",
        HttpOnly = true,
        Partitioned = true,
        Path = "/",
        SameSite = "Strict",
        Secure = true,
    };

    private static void Route(ProxyFixture f, int canaryWeight) =>
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(100 - canaryWeight, canaryWeight), [], 0, Affinity)
        {
            PrimaryCookieMaxAge = TimeSpan.FromSeconds(30),
        });

    private static async Task<(string Backend, string? SetCookie)> GetAsync(ProxyFixture f, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (cookie is not null) request.Headers.TryAddWithoutValidation("Cookie", cookie);
        using var response = await f.Client.SendAsync(request);
        var setCookie = response.Headers.TryGetValues("Set-Cookie", out var values) ? Assert.Single(values) : null;
        return (await response.Content.ReadAsStringAsync(), setCookie);
    }

    /// <summary>Requests without cookies until each backend has answered once; returns the cookies they handed out.</summary>
    private static async Task<(string Canary, string Primary)> FirstCookiesAsync(ProxyFixture f)
    {
        string? canary = null, primary = null;
        for (var i = 0; i < 200 && (canary is null || primary is null); i++)
        {
            var (backend, setCookie) = await GetAsync(f);
            Assert.NotNull(setCookie);
            if (backend == "canary") canary = setCookie; else primary = setCookie;
        }
        return (canary!, primary!);
    }

    private static string Pair(string setCookie) => setCookie.Split(';')[0];

    [Fact]
    public async Task Affinity_CanaryRoutedByWeight_GetsCookieAndSticks()
    {
        await using var f = await ProxyFixture.StartAsync(seed: 5);
        Route(f, 50);

        var (canaryCookie, primaryCookie) = await FirstCookiesAsync(f);

        Assert.Matches("^flagger-cookie=[a-zA-Z]{10}; Max-Age=86400; Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=Strict; Secure$", canaryCookie);
        Assert.Matches("^flagger-primary=[a-zA-Z]{10}; Max-Age=30; Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=Strict; Secure$", primaryCookie);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(("canary", null), await GetAsync(f, "theme=dark; " + Pair(canaryCookie)));
            Assert.Equal(("primary", null), await GetAsync(f, Pair(primaryCookie) + "; theme=dark"));
        }
    }

    [Fact]
    public async Task Affinity_StaleOrForeignValue_RoutedByWeight()
    {
        await using var f = await ProxyFixture.StartAsync(seed: 5);
        Route(f, 50);

        var backends = new HashSet<string>();
        for (var i = 0; i < 60; i++) backends.Add((await GetAsync(f, "flagger-cookie=notTheValue")).Backend);

        Assert.Equal(["canary", "primary"], backends.Order());
    }

    [Fact]
    public async Task Affinity_SameRollout_KeepsCookieValue_NewRollout_DrawsNewOne()
    {
        await using var f = await ProxyFixture.StartAsync(seed: 5);
        Route(f, 10);
        var (first, _) = await FirstCookiesAsync(f);

        Route(f, 40);
        Assert.Equal(("canary", null), await GetAsync(f, Pair(first)));

        // Promotion: the canary weight drops to 0; clients still holding the cookie are told to drop it.
        Route(f, 0);
        var (backend, expire) = await GetAsync(f, Pair(first));
        Assert.Equal("primary", backend);
        Assert.Equal(Pair(first) + "; Max-Age=-1", expire);
        Assert.Equal(("primary", null), await GetAsync(f));

        // The next rollout hands out a new value; the old one no longer sticks.
        Route(f, 50);
        var (second, _) = await FirstCookiesAsync(f);
        Assert.NotEqual(Pair(first), Pair(second));
        Assert.Equal(("canary", null), await GetAsync(f, Pair(second)));
    }

    [Fact]
    public async Task Affinity_NoSessionAffinity_NoCookies()
    {
        await using var f = await ProxyFixture.StartAsync();
        f.SetWeights(50, 50);

        for (var i = 0; i < 20; i++) Assert.Null((await GetAsync(f)).SetCookie);
    }
}

using Aviary.Core.Abstractions;
using Aviary.Core.Model;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>A/B testing: only requests matching one condition are split by the weights; the others go to the primary.</summary>
public sealed class MatchRoutingTests
{
    private static async Task<string> GetAsync(ProxyFixture f, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await f.Client.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }

    private static void Route(ProxyFixture f, params AnalysisMatch[] match) =>
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(0, 100), match, 0, null));

    private static AnalysisMatch Header(string name, HeaderMatch match) => new() { Headers = new Dictionary<string, HeaderMatch> { [name] = match } };

    [Fact]
    public async Task Match_HeaderExact_OnlyMatchingRequestsGoToCanary()
    {
        await using var f = await ProxyFixture.StartAsync();
        Route(f, Header("x-canary", new HeaderMatch { Exact = "insider" }));

        Assert.Equal("canary", await GetAsync(f, "/", ("X-Canary", "insider")));
        Assert.Equal("primary", await GetAsync(f, "/", ("X-Canary", "Insider")));
        Assert.Equal("primary", await GetAsync(f, "/", ("X-Canary", "insider2")));
        Assert.Equal("primary", await GetAsync(f, "/"));
    }

    [Fact]
    public async Task Match_HeaderPrefixSuffixRegex()
    {
        await using var f = await ProxyFixture.StartAsync();
        Route(f,
            Header("x-prefix", new HeaderMatch { Prefix = "beta-" }),
            Header("x-suffix", new HeaderMatch { Suffix = "@example.com" }),
            Header("user-agent", new HeaderMatch { Regex = ".*Firefox.*" }));

        Assert.Equal("canary", await GetAsync(f, "/", ("X-Prefix", "beta-7")));
        Assert.Equal("primary", await GetAsync(f, "/", ("X-Prefix", "alpha-beta-7")));
        Assert.Equal("canary", await GetAsync(f, "/", ("X-Suffix", "ann@example.com")));
        Assert.Equal("primary", await GetAsync(f, "/", ("X-Suffix", "ann@example.com.evil")));
        Assert.Equal("canary", await GetAsync(f, "/", ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")));
        Assert.Equal("primary", await GetAsync(f, "/", ("User-Agent", "curl/8.0")));
    }

    [Fact]
    public async Task Match_CookieRegex_MatchesWholeCookieHeaderLikeIstio()
    {
        await using var f = await ProxyFixture.StartAsync();
        // Flagger's documented cookie match, as Envoy runs it: the regex must match the whole Cookie header.
        Route(f, Header("cookie", new HeaderMatch { Regex = "^(.*?;)?(canary=always)(;.*)?$" }));

        Assert.Equal("canary", await GetAsync(f, "/", ("Cookie", "canary=always")));
        Assert.Equal("canary", await GetAsync(f, "/", ("Cookie", "canary=always; theme=dark")));
        Assert.Equal("canary", await GetAsync(f, "/", ("Cookie", "session=abc;canary=always")));
        Assert.Equal("primary", await GetAsync(f, "/", ("Cookie", "session=abc; canary=always"))); // the space: no full match
        Assert.Equal("primary", await GetAsync(f, "/", ("Cookie", "canary=never")));
        Assert.Equal("primary", await GetAsync(f, "/", ("Cookie", "notcanary=always")));
        Assert.Equal("primary", await GetAsync(f, "/"));
    }

    [Fact]
    public async Task Match_QueryParams_ExactPrefixRegex()
    {
        await using var f = await ProxyFixture.StartAsync();
        Route(f, new AnalysisMatch
        {
            QueryParams = new Dictionary<string, StringMatch> { ["release"] = new() { Exact = "canary build" }, ["user"] = new() { Regex = "[0-9]+" } },
        }, new AnalysisMatch { QueryParams = new Dictionary<string, StringMatch> { ["group"] = new() { Prefix = "beta" } } });

        Assert.Equal("canary", await GetAsync(f, "/?release=canary+build&user=42"));
        Assert.Equal("canary", await GetAsync(f, "/?user=7&release=canary%20build"));
        Assert.Equal("primary", await GetAsync(f, "/?release=canary+build&user=x42"));   // both params must hold
        Assert.Equal("primary", await GetAsync(f, "/?release=canary+build"));
        Assert.Equal("canary", await GetAsync(f, "/?group=beta-testers"));
        Assert.Equal("primary", await GetAsync(f, "/?group=alpha"));
        Assert.Equal("primary", await GetAsync(f, "/"));
    }

    [Fact]
    public async Task Match_HeadersAndQueryInOneCondition_AllMustHold()
    {
        await using var f = await ProxyFixture.StartAsync();
        Route(f, new AnalysisMatch
        {
            Headers = new Dictionary<string, HeaderMatch> { ["x-canary"] = new() { Exact = "yes" } },
            QueryParams = new Dictionary<string, StringMatch> { ["v"] = new() { Exact = "2" } },
        });

        Assert.Equal("canary", await GetAsync(f, "/?v=2", ("X-Canary", "yes")));
        Assert.Equal("primary", await GetAsync(f, "/?v=2"));
        Assert.Equal("primary", await GetAsync(f, "/?v=1", ("X-Canary", "yes")));
    }

    [Fact]
    public async Task Match_MatchingRequests_SplitByWeights()
    {
        await using var f = await ProxyFixture.StartAsync(seed: 3);
        f.Proxy.SetRoute(ProxyFixture.Service, new RouteConfig(new RouteWeights(50, 50),
            [Header("x-canary", new HeaderMatch { Exact = "insider" })], 0, null));

        var canary = 0;
        for (var i = 0; i < 400; i++)
        {
            if (await GetAsync(f, "/", ("X-Canary", "insider")) == "canary") canary++;
            Assert.Equal("primary", await GetAsync(f, "/"));
        }

        Assert.InRange(canary, 160, 240);
    }
}

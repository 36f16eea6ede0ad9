using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// The operator's dashboard on the real API server with RBAC: users present their own ServiceAccount tokens, the
/// operator verifies them (TokenReview) and authorises each request (SubjectAccessReview). One ServiceAccount may
/// view canaries and is refused the promote with the reason; the other may patch the canary and promotes it.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class DashboardRbacTests(OperatorCluster cluster)
{
    private static HttpRequestMessage Post(string path, string? bearer = null, string? cookie = null, string? csrf = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        if (csrf is not null) request.Headers.Add("X-CSRF-Token", csrf);
        return request;
    }

    private static HttpRequestMessage Get(string path, string bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    [Fact]
    public async Task Dashboard_TwoServiceAccounts_TheViewerIsRefusedThePromoteTheReleaserPromotes()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "linkerd", NamespacePrefix = "dash", Dashboard = true });
        var ns = bed.Namespace;
        await bed.ApplyAsync(CanaryRbac.Yaml(ns));
        var viewer = await bed.Server.CreateServiceAccountTokenAsync(ns, "viewer");
        var releaser = await bed.Server.CreateServiceAccountTokenAsync(ns, "releaser");
        await bed.ApplyAsync(RolloutManifests.Podinfo());
        await bed.ApplyAsync(RolloutManifests.Canary(interval: "1s", stepWeight: 5, maxWeight: 50));
        await bed.WaitForCanaryPhaseAsync("podinfo", "Initialized", TimeSpan.FromSeconds(60));
        await bed.KubectlAsync("set", "image", "deployment/podinfo", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1");
        await bed.WaitUntilAsync(async () => await RolloutManifests.CanaryWeightAsync(bed) >= 10, TimeSpan.FromSeconds(60), "canary weight 10");
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = bed.Operator()!.DashboardUrl };
        var promote = $"/ui/api/canaries/{ns}/podinfo/actions/promote";

        // Nothing without a token the API server knows; on the operator there is no anonymous view.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/ui/api/canaries")).StatusCode);
        var forged = await http.SendAsync(Get("/ui/api/canaries", "not-a-token"));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.StartsWith("the bearer token was refused", await ErrorAsync(forged), StringComparison.Ordinal);

        // The viewer logs in (a session cookie, as a browser does), sees the rollout, and is refused the promote.
        var login = await http.PostAsJsonAsync("/ui/api/login", new { token = viewer });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var cookie = login.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        var csrf = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrf").GetString();
        var listRequest = new HttpRequestMessage(HttpMethod.Get, "/ui/api/canaries");
        listRequest.Headers.Add("Cookie", cookie);
        var rows = await (await http.SendAsync(listRequest)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["podinfo"], rows.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal("Progressing", rows[0].GetProperty("phase").GetString());
        var page = await (await http.SendAsync(Get($"/ui/api/canaries/{ns}/podinfo", viewer))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(page.GetProperty("events").EnumerateArray(), e => e.GetProperty("message").GetString()!.StartsWith("Advance podinfo.", StringComparison.Ordinal));
        Assert.Contains(page.GetProperty("diff").EnumerateArray(), l => l.GetProperty("op").GetString() == "+" && l.GetProperty("text").GetString()!.Contains("podinfo:6.0.1", StringComparison.Ordinal));
        var refused = await http.SendAsync(Post(promote, cookie: cookie, csrf: csrf));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.StartsWith($"system:serviceaccount:{ns}:viewer may not patch or update canaries.flagger.app podinfo in namespace {ns}",
            await ErrorAsync(refused), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(Post(promote, bearer: viewer))).StatusCode);
        Assert.Null(await RolloutManifests.AnnotationAsync(bed, "aviary.dev/action"));

        // A user the API server knows but RBAC gives nothing is refused even the view, with the reason.
        var nobody = await http.SendAsync(Get("/ui/api/canaries", KubeTestUser.Nobody.Token));
        Assert.Equal(HttpStatusCode.Forbidden, nobody.StatusCode);
        Assert.StartsWith($"nobody may not list canaries.flagger.app in namespace {ns}", await ErrorAsync(nobody), StringComparison.Ordinal);

        // The releaser may patch the canary: the promote is the annotation the loop honours, naming who asked.
        var accepted = await http.SendAsync(Post(promote, bearer: releaser));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await bed.WaitForCanaryPhaseAsync("podinfo", "Succeeded", TimeSpan.FromSeconds(60));
        var who = $"system:serviceaccount:{ns}:releaser via the dashboard";
        Assert.Contains($"Promote requested by {who}", bed.EventMessages());
        Assert.Contains(bed.EventMessages(), m => m.StartsWith($"Promotion of podinfo.{ns} requested by {who}", StringComparison.Ordinal));

        foreach (var token in new[] { viewer, releaser, KubeTestUser.Nobody.Token })
            Assert.DoesNotContain(bed.OperatorLog, l => l.Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(bed.EventMessages(), m => m.Contains(releaser, StringComparison.Ordinal));
        bed.AssertNothingForbidden();
    }
}

using System.Net;
using System.Text.Json;

namespace Aviary.Demo.Tests;

public sealed class EndpointTests
{
    [Fact]
    public async Task Root_Default_ReportsPodinfoFields()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { Version = "1.2.3", Revision = "abc123", Color = "#ff0000" });

        using var response = await demo.Client.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal(Environment.MachineName, root.GetProperty("hostname").GetString());
        Assert.Equal("1.2.3", root.GetProperty("version").GetString());
        Assert.Equal("abc123", root.GetProperty("revision").GetString());
        Assert.Equal("#ff0000", root.GetProperty("color").GetString());
        Assert.Equal("greetings from podinfo v1.2.3", root.GetProperty("message").GetString());
        Assert.StartsWith("dotnet 10.", root.GetProperty("runtime").GetString(), StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessorCount, root.GetProperty("num_cpu").GetInt32());
    }

    [Fact]
    public async Task Root_CustomMessage_ReportsIt()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { Message = "hello canary" });

        using var doc = JsonDocument.Parse(await demo.Client.GetStringAsync(new Uri("/", UriKind.Relative)));

        Assert.Equal("hello canary", doc.RootElement.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Root_Post_Answers()
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.PostAsync(new Uri("/", UriKind.Relative), new StringContent("x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Version_Default_ReportsVersionAndRevision()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { Version = "2.0.0", Revision = "r1" });

        var body = await demo.Client.GetStringAsync(new Uri("/version", UriKind.Relative));

        Assert.Equal("""{"version":"2.0.0","revision":"r1"}""", body);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(201)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Status_Code_AnswersWithIt(int code)
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.GetAsync(new Uri($"/status/{code}", UriKind.Relative));

        Assert.Equal(code, (int)response.StatusCode);
        Assert.Equal($$"""{"status":{{code}}}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Status_NoContent_AnswersWithoutBody()
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.GetAsync(new Uri("/status/204", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("99")]
    [InlineData("600")]
    [InlineData("-1")]
    public async Task Status_Invalid_AnswersBadRequest(string code)
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.GetAsync(new Uri($"/status/{code}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Delay_Seconds_WaitsThenAnswers()
    {
        await using var demo = await RunningDemo.StartAsync();
        var started = TimeProvider.System.GetTimestamp();

        using var response = await demo.Client.GetAsync(new Uri("/delay/0.3", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(290));
        Assert.Equal("""{"delay":0.3}""", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("x")]
    [InlineData("-1")]
    [InlineData("99999")]
    public async Task Delay_Invalid_AnswersBadRequest(string seconds)
    {
        await using var demo = await RunningDemo.StartAsync();

        using var response = await demo.Client.GetAsync(new Uri($"/delay/{seconds}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Delay_ClientGivesUp_ServerStaysHealthy()
    {
        await using var demo = await RunningDemo.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200), TimeProvider.System);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => demo.Client.GetAsync(new Uri("/delay/60", UriKind.Relative), cts.Token));

        using var health = await demo.Client.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Healthz_Running_AnswersOk()
    {
        await using var demo = await RunningDemo.StartAsync(new DemoOptions { NeverReady = true });

        using var response = await demo.Client.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"status":"OK"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Stop_RequestInFlight_Finishes()
    {
        var demo = await RunningDemo.StartAsync();
        try
        {
            var inFlight = demo.Client.GetAsync(new Uri("/delay/0.5", UriKind.Relative));
            await Task.Delay(150);

            await demo.App.StopAsync(CancellationToken.None);

            using var response = await inFlight;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            await demo.DisposeAsync();
        }
    }
}

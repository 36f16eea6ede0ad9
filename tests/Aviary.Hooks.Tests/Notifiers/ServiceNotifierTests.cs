using Aviary.Core.Abstractions;
using Aviary.Core.Policy;
using Aviary.Hooks.Notifiers;

namespace Aviary.Hooks.Tests.Notifiers;

/// <summary>The exact JSON each notifier posts, as a local receiver gets it.</summary>
public sealed class ServiceNotifierTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 30, 45, 123, TimeSpan.Zero);

    private static readonly Alert Failed = new("podinfo", "test", "Canary analysis failed, podinfo.test rolled back <now>", AlertSeverity.Error,
        [new AlertField("Target", "Deployment/podinfo.test"), new AlertField("Failed checks threshold", "5")]);

    private static Alert With(AlertSeverity severity) => Failed with { Severity = severity, Message = "msg", Fields = [] };

    private static async Task<(ReceivedRequest Request, Outcome Result)> PostAsync(string type, Alert alert, Func<Uri, NotifierTarget>? target = null)
    {
        await using var receiver = await Receiver.StartAsync();
        using var http = ServiceNotifier.CreateHttpClient(null);
        var address = receiver.Url("/services/T000/B000/XXXX");
        var notifier = ServiceNotifier.Create(type, target?.Invoke(address) ?? new NotifierTarget { Address = address, Channel = "on-call", Username = "bot" },
            http, new FixedTime(Now), new RecordingLogger());
        Assert.True(notifier.Succeeded, notifier.Error);
        var result = await notifier.Value!.SendAsync(alert, CancellationToken.None);
        return (Assert.Single(receiver.Requests), result);
    }

    [Fact]
    public async Task Slack_IncomingWebhook_ExactPayload()
    {
        var (request, result) = await PostAsync("slack", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("/services/T000/B000/XXXX", request.Path);
        Assert.Equal("application/json; charset=utf-8", request.Header("Content-Type"));
        Assert.Null(request.Header("Authorization"));
        Assert.Equal(
            """{"channel":"on-call","username":"bot","icon_emoji":":rocket:","attachments":[{"color":"danger","author_name":"podinfo.test","text":"Canary analysis failed, podinfo.test rolled back <now>","mrkdwn_in":["text"],"fields":[{"title":"Target","value":"Deployment/podinfo.test","short":false},{"title":"Failed checks threshold","value":"5","short":false}]}]}""",
            request.Text);
    }

    [Theory]
    [InlineData(AlertSeverity.Info, "good")]
    [InlineData(AlertSeverity.Warn, "warning")]
    [InlineData(AlertSeverity.Error, "danger")]
    public async Task Slack_Severity_Color(AlertSeverity severity, string color)
    {
        var (request, _) = await PostAsync("slack", With(severity));

        Assert.Equal(
            $$"""{"channel":"on-call","username":"bot","icon_emoji":":rocket:","attachments":[{"color":"{{color}}","author_name":"podinfo.test","text":"msg","mrkdwn_in":["text"],"fields":[]}]}""",
            request.Text);
    }

    [Fact]
    public async Task Slack_WithToken_SendsBearer_AndApiRefusalIsAnError()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, _) => (200, """{"ok":false,"error":"channel_not_found"}""");
        using var http = ServiceNotifier.CreateHttpClient(null);
        var notifier = ServiceNotifier.Create("slack",
            new NotifierTarget { Address = receiver.Url("/api/chat.postMessage"), Token = "xoxb-123" }, http, TimeProvider.System, new RecordingLogger()).Value!;

        var result = await notifier.SendAsync(With(AlertSeverity.Info), CancellationToken.None);

        Assert.Equal("Bearer xoxb-123", Assert.Single(receiver.Requests).Header("Authorization"));
        Assert.Equal("Slack refused the message: channel_not_found", result.Error);
    }

    [Fact]
    public async Task Discord_SlackCompatibleEndpoint_ExactPayload()
    {
        var (request, result) = await PostAsync("discord", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("/services/T000/B000/XXXX/slack", request.Path);
        Assert.Equal(
            """{"channel":"on-call","username":"bot","icon_emoji":":rocket:","attachments":[{"color":"danger","author_name":"podinfo.test","text":"Canary analysis failed, podinfo.test rolled back <now>","mrkdwn_in":["text"],"fields":[{"title":"Target","value":"Deployment/podinfo.test","short":false},{"title":"Failed checks threshold","value":"5","short":false}]}]}""",
            request.Text);
    }

    [Theory]
    [InlineData("https://discord.com/api/webhooks/1/abc", "https://discord.com/api/webhooks/1/abc/slack")]
    [InlineData("https://discord.com/api/webhooks/1/abc/", "https://discord.com/api/webhooks/1/abc/slack")]
    [InlineData("https://discord.com/api/webhooks/1/abc/slack", "https://discord.com/api/webhooks/1/abc/slack")]
    [InlineData("https://discord.com/api/webhooks/1/abc?wait=true", "https://discord.com/api/webhooks/1/abc/slack?wait=true")]
    public void Discord_SlackEndpoint_AppendsSlackOnce(string address, string expected)
    {
        Assert.Equal(expected, DiscordNotifier.SlackEndpoint(new Uri(address)).AbsoluteUri);
    }

    [Fact]
    public async Task Rocket_ExactPayload()
    {
        var (request, result) = await PostAsync("rocket", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(
            """{"channel":"on-call","username":"bot","icon_emoji":":rocket:","attachments":[{"color":"#FF0000","author_name":"podinfo.test","text":"Canary analysis failed, podinfo.test rolled back <now>","mrkdwn_in":["text"],"fields":[{"title":"Target","value":"Deployment/podinfo.test","short":false},{"title":"Failed checks threshold","value":"5","short":false}]}]}""",
            request.Text);
        Assert.Contains("\"color\":\"#0076D7\"", (await PostAsync("rocket", With(AlertSeverity.Info))).Request.Text, StringComparison.Ordinal);
        Assert.Contains("\"color\":\"#FFA500\"", (await PostAsync("rocket", With(AlertSeverity.Warn))).Request.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Teams_MessageCard_ExactPayload()
    {
        var (request, result) = await PostAsync("msteams", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(
            """{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"FF0000","summary":"podinfo.test","sections":[{"activityTitle":"Canary analysis failed, podinfo.test rolled back <now>","activitySubtitle":"podinfo.test","facts":[{"name":"Target","value":"Deployment/podinfo.test"},{"name":"Failed checks threshold","value":"5"}]}]}""",
            request.Text);
        Assert.Contains("\"themeColor\":\"0076D7\"", (await PostAsync("msteams", With(AlertSeverity.Info))).Request.Text, StringComparison.Ordinal);
        Assert.Contains("\"themeColor\":\"FFA500\"", (await PostAsync("msteams", With(AlertSeverity.Warn))).Request.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoogleChat_Card_ExactPayload_TextsEscaped()
    {
        var (request, result) = await PostAsync("gchat", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(
            """{"cards":[{"header":{"title":"Aviary","subtitle":"podinfo.test"},"sections":[{"widgets":[{"textParagraph":{"text":"<font color=#848484><strong>Canary analysis failed, podinfo.test rolled back &lt;now&gt;</strong></font>"}}]},{"widgets":[{"textParagraph":{"text":"Target<br><font color=#848484><strong>Deployment/podinfo.test</strong></font>"}}]},{"widgets":[{"textParagraph":{"text":"Failed checks threshold<br><font color=#848484><strong>5</strong></font>"}}]}]}]}""",
            request.Text);
    }

    [Fact]
    public async Task Generic_ExactPayload()
    {
        var (request, result) = await PostAsync("generic", Failed);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(
            """{"canary":"podinfo","namespace":"test","message":"Canary analysis failed, podinfo.test rolled back <now>","severity":"error","fields":[{"name":"Target","value":"Deployment/podinfo.test"},{"name":"Failed checks threshold","value":"5"}],"time":"2025-06-01T12:30:45.123Z"}""",
            request.Text);
        Assert.Contains("\"severity\":\"info\"", (await PostAsync("generic", With(AlertSeverity.Info))).Request.Text, StringComparison.Ordinal);
        Assert.Contains("\"severity\":\"warn\"", (await PostAsync("generic", With(AlertSeverity.Warn))).Request.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_ServiceRefuses_ErrorHasStatusAndBodyButNeverTheAddress()
    {
        await using var receiver = await Receiver.StartAsync();
        var address = receiver.Url("/services/T000/B000/SECRETTOKEN");
        receiver.Respond = (_, r) => (404, "no_service for " + r.Target);
        using var http = ServiceNotifier.CreateHttpClient(null);
        var logger = new RecordingLogger();
        var notifier = ServiceNotifier.Create("slack", new NotifierTarget { Address = address }, http, TimeProvider.System, logger).Value!;

        var result = await notifier.SendAsync(Failed, CancellationToken.None);
        await notifier.PostAsync(null, Failed, CancellationToken.None);

        Assert.StartsWith("sending notification bad response 404: no_service for ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETTOKEN", result.Error, StringComparison.Ordinal);
        Assert.Contains("bad response 404", logger.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETTOKEN", logger.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_NobodyListens_ErrorNeverHasTheAddress()
    {
        var address = new Uri($"http://127.0.0.1:{Receiver.ClosedPort()}/services/T000/B000/SECRETTOKEN");
        using var http = ServiceNotifier.CreateHttpClient(null);
        var notifier = ServiceNotifier.Create("msteams", new NotifierTarget { Address = address }, http, TimeProvider.System, new RecordingLogger()).Value!;

        var result = await notifier.SendAsync(Failed, CancellationToken.None);

        Assert.StartsWith("sending notification failed: ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETTOKEN", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_ThroughProxy_TheProxyGetsTheAbsoluteTarget()
    {
        await using var proxy = await Receiver.StartAsync();
        using var http = ServiceNotifier.CreateHttpClient(proxy.Address);
        var target = new NotifierTarget { Address = new Uri("http://hooks.example.invalid/services/T/B/X"), Proxy = proxy.Address };
        var notifier = ServiceNotifier.Create("generic", target, http, TimeProvider.System, new RecordingLogger()).Value!;

        var result = await notifier.SendAsync(Failed, CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        var request = Assert.Single(proxy.Requests);
        Assert.Equal("http://hooks.example.invalid/services/T/B/X", request.Target);
        Assert.Contains("\"canary\":\"podinfo\"", request.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_UnknownType_IsAnError()
    {
        using var http = ServiceNotifier.CreateHttpClient(null);

        var result = ServiceNotifier.Create("pagerduty", new NotifierTarget { Address = new Uri("https://x.example/") }, http, TimeProvider.System, new RecordingLogger());

        Assert.StartsWith("provider pagerduty not supported", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void NotifierTarget_ToString_HidesAddressAndToken()
    {
        var text = new NotifierTarget { Address = new Uri("https://hooks.example/services/SECRET"), Token = "xoxb-SECRET" }.ToString();

        Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
    }
}

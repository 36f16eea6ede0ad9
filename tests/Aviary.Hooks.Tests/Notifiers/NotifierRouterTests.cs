using Aviary.Core.Abstractions;
using Aviary.Core.Model;
using Aviary.Core.Policy;
using Aviary.Hooks.Notifiers;
using Aviary.Hooks.Secrets;
using Aviary.TestKit;

namespace Aviary.Hooks.Tests.Notifiers;

public sealed class NotifierRouterTests
{
    private static readonly Alert Alert = new("podinfo", "test", "New revision detected", AlertSeverity.Info, [new AlertField("Target", "Deployment/podinfo.test")]);

    private readonly Dictionary<(string Namespace, string Name), AlertProvider> _providers = [];
    private readonly List<(string Namespace, string Name)> _lookups = [];
    private readonly Dictionary<string, string> _env = [];
    private readonly FakeNotifier _default = new();
    private readonly RecordingLogger _logger = new();

    private NotifierRouter Router() => new(
        (ns, name, _) =>
        {
            _lookups.Add((ns, name));
            return ValueTask.FromResult(_providers.GetValueOrDefault((ns, name)));
        },
        new EnvironmentSecrets(null, _env.GetValueOrDefault), _default, _logger, TimeProvider.System);

    private void Provider(string ns, string name, AlertProviderSpec spec) =>
        _providers[(ns, name)] = new AlertProvider { Metadata = new ObjectMeta { Name = name, Namespace = ns }, Spec = spec };

    [Fact]
    public async Task PostAsync_NoProvider_GoesToTheDefault()
    {
        using var router = Router();

        await router.PostAsync(null, Alert, CancellationToken.None);

        Assert.Equal(Alert, Assert.Single(_default.Sent).Alert);
        Assert.Empty(_lookups);
    }

    [Fact]
    public async Task PostAsync_ProviderWithAddress_PostsThroughItsType_InTheCanarysNamespace_AndKeepsTheNotifier()
    {
        await using var receiver = await Receiver.StartAsync();
        Provider("test", "hooks", new AlertProviderSpec { Type = "generic", Address = receiver.Url("/alerts").ToString() });
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "hooks" }, Alert, CancellationToken.None);
        await router.PostAsync(new NamedReference { Name = "hooks" }, Alert, CancellationToken.None);

        Assert.Equal(2, receiver.Requests.Count);
        Assert.All(receiver.Requests, r => Assert.Contains("\"message\":\"New revision detected\"", r.Text, StringComparison.Ordinal));
        Assert.Equal([("test", "hooks"), ("test", "hooks")], _lookups);
        Assert.Equal(1, router.CachedNotifiers);
        Assert.Empty(_default.Sent);
    }

    [Fact]
    public async Task PostAsync_ProviderInAnotherNamespace_IsLookedUpThere()
    {
        await using var receiver = await Receiver.StartAsync();
        Provider("flagger-system", "slack", new AlertProviderSpec { Type = "slack", Address = receiver.Url("/x").ToString() });
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "slack", Namespace = "flagger-system" }, Alert, CancellationToken.None);

        Assert.Equal(("flagger-system", "slack"), Assert.Single(_lookups));
        Assert.Contains("\"channel\":\"general\",\"username\":\"aviary\"", Assert.Single(receiver.Requests).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostAsync_SecretRef_AddressAndSlackTokenFromTheSecret_RebuiltWhenTheSecretChanges()
    {
        await using var first = await Receiver.StartAsync();
        await using var second = await Receiver.StartAsync();
        Provider("test", "slack", new AlertProviderSpec { Type = "slack", Channel = "alerts", SecretRef = new SecretReference { Name = "slack-url" } });
        _env["AVIARY_SECRET_SLACK_URL_ADDRESS"] = first.Url("/api/chat.postMessage").ToString();
        _env["AVIARY_SECRET_SLACK_URL_TOKEN"] = "xoxb-42";
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "slack" }, Alert, CancellationToken.None);
        _env["AVIARY_SECRET_SLACK_URL_ADDRESS"] = second.Url("/hook").ToString();
        await router.PostAsync(new NamedReference { Name = "slack" }, Alert, CancellationToken.None);

        var request = Assert.Single(first.Requests);
        Assert.Equal("/api/chat.postMessage", request.Path);
        Assert.Equal("Bearer xoxb-42", request.Header("Authorization"));
        Assert.Contains("\"channel\":\"alerts\"", request.Text, StringComparison.Ordinal);
        Assert.Equal("/hook", Assert.Single(second.Requests).Path);
    }

    [Fact]
    public async Task SendAsync_SecretWithoutAddress_IsAnError()
    {
        Provider("test", "teams", new AlertProviderSpec { Type = "msteams", SecretRef = new SecretReference { Name = "teams" } });
        _env["AVIARY_SECRET_TEAMS_TOKEN"] = "t";
        using var router = Router();

        var result = await router.SendAsync(new NamedReference { Name = "teams" }, Alert, CancellationToken.None);

        Assert.Equal("alert provider teams.test secret teams does not contain an address", result.Error);
    }

    [Fact]
    public async Task PostAsync_UnknownProvider_LoggedNotThrown_NoFallbackToTheDefault()
    {
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "nope" }, Alert, CancellationToken.None);

        Assert.Contains("alert provider nope.test not found", _logger.Text, StringComparison.Ordinal);
        Assert.Empty(_default.Sent);
    }

    [Fact]
    public async Task PostAsync_PostFails_LoggedWithoutTheAddress()
    {
        await using var receiver = await Receiver.StartAsync();
        receiver.Respond = (_, r) => (500, "boom at " + r.Target);
        Provider("test", "rocket", new AlertProviderSpec { Type = "rocket", SecretRef = new SecretReference { Name = "rocket" } });
        _env["AVIARY_SECRET_ROCKET_ADDRESS"] = receiver.Url("/hooks/SECRETID/SECRETTOKEN").ToString();
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "rocket" }, Alert, CancellationToken.None);
        var result = await router.SendAsync(new NamedReference { Name = "rocket" }, Alert, CancellationToken.None);

        Assert.StartsWith("alert provider rocket.test send error: sending notification bad response 500: boom at ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", result.Error, StringComparison.Ordinal);
        Assert.Contains("send error", _logger.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", _logger.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostAsync_BadAddressOrType_LoggedWithoutTheAddress()
    {
        Provider("test", "bad", new AlertProviderSpec { Type = "slack", Address = "hooks.example/SECRET" });
        Provider("test", "odd", new AlertProviderSpec { Type = "pagerduty", Address = "https://x.example/SECRET" });
        using var router = Router();

        await router.PostAsync(new NamedReference { Name = "bad" }, Alert, CancellationToken.None);
        await router.PostAsync(new NamedReference { Name = "odd" }, Alert, CancellationToken.None);

        Assert.Contains("alert provider bad.test error: the address is not an absolute http or https URL", _logger.Text, StringComparison.Ordinal);
        Assert.Contains("alert provider odd.test error: provider pagerduty not supported", _logger.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", _logger.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostAsync_LookupThrows_LoggedNotThrown()
    {
        using var router = new NotifierRouter((_, _, _) => throw new InvalidOperationException("api down https://x/SECRET"),
            new EnvironmentSecrets(null, _ => null), _default, _logger, TimeProvider.System);

        await router.PostAsync(new NamedReference { Name = "any" }, Alert, CancellationToken.None);

        Assert.Contains("unexpected InvalidOperationException", _logger.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", _logger.Text, StringComparison.Ordinal);
    }
}

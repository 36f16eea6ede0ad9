using Aviary.Metrics.Secrets;

namespace Aviary.Metrics.Tests.Secrets;

public sealed class LocalSecretResolverTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "aviary-secrets-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);

    private LocalSecretResolver Resolver(bool withDir = true) => new(withDir ? _dir : null, name => _environment.GetValueOrDefault(name));

    [Theory]
    [InlineData("prom-auth", "token", "AVIARY_SECRET_PROM_AUTH_TOKEN")]
    [InlineData("my.secret", "username", "AVIARY_SECRET_MY_SECRET_USERNAME")]
    [InlineData("Datadog", "datadog_api_key", "AVIARY_SECRET_DATADOG_DATADOG_API_KEY")]
    public void EnvironmentVariable_UpperCasedAndSanitized(string secret, string key, string expected) =>
        Assert.Equal(expected, LocalSecretResolver.EnvironmentVariable(secret, key));

    [Fact]
    public async Task GetAsync_FromEnvironment_WellKnownKeys()
    {
        _environment["AVIARY_SECRET_PROM_AUTH_USERNAME"] = "alice";
        _environment["AVIARY_SECRET_PROM_AUTH_PASSWORD"] = "pw";
        _environment["AVIARY_SECRET_PROM_AUTH_ADDRESS"] = "http://prom:9090";
        _environment["AVIARY_SECRET_OTHER_TOKEN"] = "not this one";
        var secret = await Resolver().GetAsync("test", "prom-auth", CancellationToken.None);
        Assert.True(secret.Succeeded, secret.Error);
        Assert.Equal(new Dictionary<string, string> { ["username"] = "alice", ["password"] = "pw", ["address"] = "http://prom:9090" }, secret.Value);
    }

    [Fact]
    public async Task GetAsync_FromFiles_EveryKeyFinalNewlineRemoved()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "prom-auth"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "prom-auth", "token"), "abc\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "prom-auth", "datadog_api_key"), "k");
        await File.WriteAllTextAsync(Path.Combine(_dir, "prom-auth", "..data"), "ignored");
        var secret = await Resolver().GetAsync("test", "prom-auth", CancellationToken.None);
        Assert.True(secret.Succeeded, secret.Error);
        Assert.Equal(new Dictionary<string, string> { ["token"] = "abc", ["datadog_api_key"] = "k" }, secret.Value);
    }

    [Fact]
    public async Task GetAsync_EnvironmentAndFile_EnvironmentWins()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "s"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "s", "token"), "from-file");
        await File.WriteAllTextAsync(Path.Combine(_dir, "s", "username"), "u");
        _environment["AVIARY_SECRET_S_TOKEN"] = "from-env";
        var secret = await Resolver().GetAsync("test", "s", CancellationToken.None);
        Assert.Equal("from-env", secret.Value!["token"]);
        Assert.Equal("u", secret.Value!["username"]);
    }

    [Fact]
    public async Task GetAsync_NotFound_SaysWhereToPutIt()
    {
        var secret = await Resolver().GetAsync("test", "prom-auth", CancellationToken.None);
        Assert.False(secret.Succeeded);
        Assert.StartsWith("secret prom-auth not found: set AVIARY_SECRET_PROM_AUTH_TOKEN", secret.Error);
        Assert.Contains(Path.Combine(_dir, "prom-auth"), secret.Error);
    }

    [Fact]
    public async Task GetAsync_NoDir_EnvironmentOnly()
    {
        var secret = await Resolver(withDir: false).GetAsync("test", "x", CancellationToken.None);
        Assert.False(secret.Succeeded);
        Assert.DoesNotContain("files", secret.Error);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("")]
    public async Task GetAsync_NameThatLeavesTheFolder_Rejected(string name)
    {
        var secret = await Resolver().GetAsync("test", name, CancellationToken.None);
        Assert.False(secret.Succeeded);
        Assert.Contains("is not valid", secret.Error);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}

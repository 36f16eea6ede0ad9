using Aviary.Hooks.Secrets;

namespace Aviary.Hooks.Tests.Secrets;

public sealed class EnvironmentSecretsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aviary-secrets-").FullName;

    [Theory]
    [InlineData("slack-hook", "address", "AVIARY_SECRET_SLACK_HOOK_ADDRESS")]
    [InlineData("teams.hook", "token", "AVIARY_SECRET_TEAMS_HOOK_TOKEN")]
    [InlineData("a1", "x-y", "AVIARY_SECRET_A1_X_Y")]
    public void EnvironmentVariable_Name_UppercasedWithUnderscores(string secret, string key, string expected)
    {
        Assert.Equal(expected, EnvironmentSecrets.EnvironmentVariable(secret, key));
    }

    [Fact]
    public async Task GetAsync_FromEnvironment_ReadsWellKnownKeys()
    {
        var env = new Dictionary<string, string>
        {
            ["AVIARY_SECRET_SLACK_HOOK_ADDRESS"] = "https://hooks.example/services/T/B/X",
            ["AVIARY_SECRET_SLACK_HOOK_TOKEN"] = "xoxb-1",
        };
        var secrets = new EnvironmentSecrets(null, env.GetValueOrDefault);

        var result = await secrets.GetAsync("test", "slack-hook", CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("https://hooks.example/services/T/B/X", result.Value!["address"]);
        Assert.Equal("xoxb-1", result.Value["token"]);
    }

    [Fact]
    public async Task GetAsync_FromFiles_ReadsEveryKeyWithoutTheFinalNewline_VariableWins()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "hook"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "hook", "address"), "https://file.example/x\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "hook", "token"), "from-file");
        await File.WriteAllTextAsync(Path.Combine(_dir, "hook", ".hidden"), "ignored");
        var env = new Dictionary<string, string> { ["AVIARY_SECRET_HOOK_TOKEN"] = "from-env" };
        var secrets = new EnvironmentSecrets(_dir, env.GetValueOrDefault);

        var result = await secrets.GetAsync("test", "hook", CancellationToken.None);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("https://file.example/x", result.Value!["address"]);
        Assert.Equal("from-env", result.Value["token"]);
        Assert.False(result.Value.ContainsKey(".hidden"));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("../etc")]
    [InlineData("..")]
    public async Task GetAsync_MissingOrInvalid_FailsSayingWhere(string name)
    {
        var secrets = new EnvironmentSecrets(_dir, _ => null);

        var result = await secrets.GetAsync("test", name, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

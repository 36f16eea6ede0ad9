namespace Aviary.Cli.Tests.Operator;

/// <summary><c>aviary operator</c>'s bad input: a clear line and exit 1, never a stack trace.</summary>
public sealed class OperatorCommandTests
{
    [Fact]
    public async Task Operator_MetricsServerNotAUrl_NamesTheOption()
    {
        var run = await CliRunner.RunAsync("operator", "--metrics-server", "prometheus", "--kubeconfig", "/nonexistent");
        Assert.Equal(1, run.Exit);
        Assert.Contains("--metrics-server 'prometheus' is not an http(s) URL such as http://prometheus:9090", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operator_KubeconfigMissing_SaysSoAndExits1()
    {
        var missing = Path.Combine(Path.GetTempPath(), "aviary-no-such-kubeconfig-" + Guid.NewGuid().ToString("N"));
        var run = await CliRunner.RunAsync("operator", "--kubeconfig", missing, "--metrics-server", "http://127.0.0.1:9/", "--listen", "127.0.0.1:0");
        Assert.Equal(1, run.Exit);
        Assert.Equal($"aviary operator: kubeconfig {missing} does not exist", run.Err.Trim());
    }
}

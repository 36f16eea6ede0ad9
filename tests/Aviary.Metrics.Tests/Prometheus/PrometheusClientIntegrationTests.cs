using Aviary.Metrics.Prometheus;
using Aviary.TestKit;

namespace Aviary.Metrics.Tests.Prometheus;

/// <summary>The client against a real Prometheus 2.42: every result shape PromQL can produce without data.</summary>
[Collection(RealServersCollection.Name)]
public sealed class PrometheusClientIntegrationTests(RealPrometheus prometheus) : IDisposable
{
    private readonly PrometheusClient _client = new(new PrometheusClientOptions { Address = prometheus.Server.Url }, TimeProvider.System);

    private Task<QueryResult> QueryAsync(string query) => _client.QueryAsync(query, CancellationToken.None).AsTask();

    [Fact]
    public async Task QueryAsync_Scalar_Value() => Assert.Equal(QueryResult.Of(2.5), await QueryAsync("2.5"));

    [Fact]
    public async Task QueryAsync_VectorOfOne_Value() => Assert.Equal(QueryResult.Of(42), await QueryAsync("vector(40) + 2"));

    [Fact]
    public async Task QueryAsync_MultiLine_Value() => Assert.Equal(QueryResult.Of(3), await QueryAsync("\n  sum(\n    vector(3)\n  )\n"));

    [Fact]
    public async Task QueryAsync_SeveralSeries_ErrorWithLabels()
    {
        var result = await QueryAsync("""label_replace(vector(1), "pod", "a", "", "") or label_replace(vector(2), "pod", "b", "", "")""");
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("returned 2 series", result.Message);
        Assert.Contains("{pod=\"a\"}", result.Message);
        Assert.Contains("{pod=\"b\"}", result.Message);
    }

    [Fact]
    public async Task QueryAsync_Matrix_Error()
    {
        var result = await QueryAsync("vector(1)[5s:1s]");
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("range vector (matrix)", result.Message);
    }

    [Fact]
    public async Task QueryAsync_Empty_NoData() => Assert.Equal(QueryResultKind.NoData, (await QueryAsync("vector(1) > 2")).Kind);

    [Fact]
    public async Task QueryAsync_NoSuchMetric_NoData() =>
        Assert.Equal(QueryResultKind.NoData, (await QueryAsync("sum(rate(response_total{namespace=\"nowhere\"}[1m]))")).Kind);

    [Theory]
    [InlineData("vector(0) / 0")]
    [InlineData("0 / 0")]
    public async Task QueryAsync_NaN_NoData(string query) => Assert.Equal(QueryResultKind.NoData, (await QueryAsync(query)).Kind);

    [Fact]
    public async Task QueryAsync_Inf_Value() => Assert.Equal(double.PositiveInfinity, (await QueryAsync("vector(1) / 0")).Value);

    [Fact]
    public async Task QueryAsync_String_Error() => Assert.Equal(QueryResultKind.Error, (await QueryAsync("\"text\"")).Kind);

    [Fact]
    public async Task QueryAsync_SyntaxError_ErrorWith400AndPrometheusMessage()
    {
        var result = await QueryAsync("sum(rate(x[1m])");
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.StartsWith("Prometheus answered 400 Bad Request: bad_data: ", result.Message);
        Assert.Contains("parse error", result.Message);
    }

    [Fact]
    public async Task IsOnlineAsync_RealPrometheus_Online()
    {
        var online = await _client.IsOnlineAsync(CancellationToken.None);
        Assert.True(online.Succeeded, online.Error);
    }

    [Fact]
    public async Task IsOnlineAsync_ClosedPort_OfflineWithReason()
    {
        var port = LocalTestBed.FreePort();
        using var client = new PrometheusClient(new PrometheusClientOptions { Address = new Uri($"http://127.0.0.1:{port}") }, TimeProvider.System);
        var online = await client.IsOnlineAsync(CancellationToken.None);
        Assert.False(online.Succeeded);
        Assert.Contains($"Prometheus at http://127.0.0.1:{port} is not available: cannot query Prometheus", online.Error);
        Assert.Contains("refused", online.Error, StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose() => _client.Dispose();
}

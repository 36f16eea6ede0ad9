using Aviary.Metrics.Prometheus;

namespace Aviary.Metrics.Tests.Prometheus;

/// <summary>Every shape of Prometheus' <c>/api/v1/query</c> answer, as documented for the HTTP API.</summary>
public sealed class PrometheusResponseTests
{
    private static QueryResult Read(string body, int status = 200) => PrometheusResponse.Read(status, null, body);

    private static string Vector(params string[] series) =>
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" + string.Join(",", series) + "]}}";

    [Fact]
    public void Read_Scalar_IsTheValue()
    {
        var result = Read("""{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"2.5"]}}""");
        Assert.Equal(QueryResult.Of(2.5), result);
    }

    [Fact]
    public void Read_VectorOfOneSeries_IsItsValue()
    {
        var result = Read(Vector("""{"metric":{"job":"x"},"value":[1435781451.781,"99.25"]}"""));
        Assert.Equal(QueryResultKind.Value, result.Kind);
        Assert.Equal(99.25, result.Value);
    }

    [Fact]
    public void Read_EmptyVector_IsNoData()
    {
        var result = Read(Vector());
        Assert.Equal(QueryResultKind.NoData, result.Kind);
        Assert.Equal("the query returned no series", result.Message);
    }

    [Theory]
    [InlineData("""{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}""")]
    [InlineData("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}""")]
    public void Read_NaN_IsNoData(string body) => Assert.Equal(QueryResultKind.NoData, Read(body).Kind);

    [Theory]
    [InlineData("+Inf", double.PositiveInfinity)]
    [InlineData("-Inf", double.NegativeInfinity)]
    [InlineData("1e3", 1000)]
    [InlineData("-0.5", -0.5)]
    public void Read_SpecialAndExponentValues_AreValues(string text, double expected)
    {
        var result = Read(Vector($$"""{"metric":{},"value":[1,"{{text}}"]}"""));
        Assert.Equal(QueryResultKind.Value, result.Kind);
        Assert.Equal(expected, result.Value);
    }

    [Fact]
    public void Read_SeveralSeries_ErrorListsTheirLabels()
    {
        var result = Read(Vector(
            """{"metric":{"__name__":"up","job":"api","instance":"a:1"},"value":[1,"1"]}""",
            """{"metric":{"__name__":"up","job":"api","instance":"b:\"2\""},"value":[1,"0"]}"""));
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Equal("the query returned 2 series, expected one (aggregate them, e.g. with sum): " +
            "up{job=\"api\", instance=\"a:1\"}, up{job=\"api\", instance=\"b:\\\"2\\\"\"}", result.Message);
    }

    [Fact]
    public void Read_ManySeries_ErrorShowsFiveAndCountsTheRest()
    {
        var series = Enumerable.Range(0, 8).Select(i => $$"""{"metric":{"i":"{{i}}"},"value":[1,"1"]}""").ToArray();
        var result = Read(Vector(series));
        Assert.Contains("returned 8 series", result.Message);
        Assert.Contains("{i=\"4\"}, and 3 more", result.Message);
        Assert.DoesNotContain("{i=\"5\"}", result.Message);
    }

    [Fact]
    public void Read_Matrix_ErrorNamesTheSeries()
    {
        var result = Read("""
            {"status":"success","data":{"resultType":"matrix","result":[
              {"metric":{"__name__":"up","job":"a"},"values":[[1,"1"],[2,"1"]]}]}}
            """);
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Equal("the query returned a range vector (matrix) of 1 series, expected a single value: up{job=\"a\"}", result.Message);
    }

    [Fact]
    public void Read_EmptyMatrix_IsStillAnError() =>
        Assert.Equal(QueryResultKind.Error, Read("""{"status":"success","data":{"resultType":"matrix","result":[]}}""").Kind);

    [Fact]
    public void Read_String_IsAnError() =>
        Assert.Equal("the query returned a string, not a number",
            Read("""{"status":"success","data":{"resultType":"string","result":[1,"hello"]}}""").Message);

    [Fact]
    public void Read_NativeHistogram_IsAnError()
    {
        var result = Read(Vector("""{"metric":{"__name__":"h"},"histogram":[1,{"count":"3","sum":"1","buckets":[]}]}"""));
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Contains("native histogram", result.Message);
    }

    [Fact]
    public void Read_HttpError_HasStatusAndPrometheusMessage()
    {
        var result = PrometheusResponse.Read(400, "Bad Request",
            """{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}""");
        Assert.Equal(QueryResultKind.Error, result.Kind);
        Assert.Equal("Prometheus answered 400 Bad Request: bad_data: invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis", result.Message);
    }

    [Fact]
    public void Read_HttpErrorWithoutJson_QuotesTheBodyAndKnowsTheReason()
    {
        var result = PrometheusResponse.Read(503, null, "upstream connect error");
        Assert.Equal("Prometheus answered 503 Service Unavailable: upstream connect error", result.Message);
    }

    [Fact]
    public void Read_StatusErrorIn2xx_IsAnError() =>
        Assert.Equal("Prometheus answered error: timeout: query timed out",
            Read("""{"status":"error","errorType":"timeout","error":"query timed out"}""").Message);

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"status":"success"}""")]
    [InlineData("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}""")]
    [InlineData("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}""")]
    [InlineData("""{"status":"success","data":{"resultType":"scalar","result":[1,2]}}""")]
    [InlineData("""{"status":"success","data":{"resultType":"weird","result":[]}}""")]
    public void Read_Malformed_IsAnErrorNotAnException(string body) => Assert.Equal(QueryResultKind.Error, Read(body).Kind);
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Aviary.Metrics.Prometheus;

/// <summary>
/// Reads an answer of <c>/api/v1/query</c> into one number. Prometheus' envelope is
/// <c>{"status": "success"|"error", "data": {"resultType": …, "result": …}, "errorType": …, "error": …}</c>.
/// A scalar, or a vector of exactly one series, is a value (<c>+Inf</c> too); an empty vector or NaN is no data;
/// a matrix, a string, a native histogram or several series is an error that shows what came back — Flagger
/// silently takes the last of several series, which hides a query that does not aggregate.
/// </summary>
internal static class PrometheusResponse
{
    /// <summary>Series shown in an error before "and N more".</summary>
    private const int ShownSeries = 5;

    /// <summary>Characters of a non-JSON body quoted in an error.</summary>
    private const int QuotedBody = 300;

    public static QueryResult Read(int status, string? reason, string body)
    {
        JsonDocument? document = null;
        try
        {
            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                return status >= 400
                    ? QueryResult.Failed($"Prometheus answered {Status(status, reason)}: {Quote(body)}")
                    : QueryResult.Failed($"Prometheus' answer is not JSON: {Quote(body)}");
            }
            var root = document.RootElement;
            if (status >= 400)
                return QueryResult.Failed($"Prometheus answered {Status(status, reason)}: {ErrorText(root) ?? Quote(body)}");
            if (root.ValueKind != JsonValueKind.Object || String(root, "status") is not { } state)
                return QueryResult.Failed($"Prometheus' answer has no status: {Quote(body)}");
            if (state != "success")
                return QueryResult.Failed($"Prometheus answered {state}: {ErrorText(root) ?? Quote(body)}");
            if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
                || String(data, "resultType") is not { } type || !data.TryGetProperty("result", out var result))
                return QueryResult.Failed($"Prometheus' answer has no data.resultType and data.result: {Quote(body)}");
            return type switch
            {
                "scalar" => Sample(result, "scalar"),
                "vector" => Vector(result),
                "matrix" => Matrix(result),
                "string" => QueryResult.Failed("the query returned a string, not a number"),
                _ => QueryResult.Failed($"the query returned an unknown result type '{type}'"),
            };
        }
        finally
        {
            document?.Dispose();
        }
    }

    private static QueryResult Vector(JsonElement result)
    {
        if (result.ValueKind != JsonValueKind.Array) return QueryResult.Failed("the vector result is not an array");
        var count = result.GetArrayLength();
        if (count == 0) return QueryResult.NoData("the query returned no series");
        if (count > 1)
            return QueryResult.Failed($"the query returned {count} series, expected one (aggregate them, e.g. with sum): {Series(result)}");
        var series = result[0];
        if (series.ValueKind != JsonValueKind.Object) return QueryResult.Failed("the vector's series is not an object");
        if (series.TryGetProperty("value", out var value)) return Sample(value, Labels(series));
        if (series.TryGetProperty("histogram", out _))
            return QueryResult.Failed($"the query returned a native histogram, not a number: {Labels(series)}");
        return QueryResult.Failed($"the series {Labels(series)} has no value");
    }

    private static QueryResult Matrix(JsonElement result)
    {
        var count = result.ValueKind == JsonValueKind.Array ? result.GetArrayLength() : 0;
        return count == 0
            ? QueryResult.Failed("the query returned a range vector (matrix), expected a single value: use an instant vector")
            : QueryResult.Failed($"the query returned a range vector (matrix) of {count} series, expected a single value: {Series(result)}");
    }

    /// <summary>A sample <c>[unix_time, "value"]</c>.</summary>
    private static QueryResult Sample(JsonElement sample, string what)
    {
        if (sample.ValueKind != JsonValueKind.Array || sample.GetArrayLength() != 2 || sample[1].ValueKind != JsonValueKind.String)
            return QueryResult.Failed($"the sample of {what} is not [time, \"value\"]: {Quote(sample.GetRawText())}");
        var text = sample[1].GetString()!;
        if (!TryParseValue(text, out var value))
            return QueryResult.Failed($"the value of {what} is not a number: {Quote(text)}");
        return double.IsNaN(value) ? QueryResult.NoData("the query returned NaN (e.g. a ratio of rates without traffic)") : QueryResult.Of(value);
    }

    /// <summary>Prometheus' sample values: a decimal number, <c>NaN</c>, <c>+Inf</c> or <c>-Inf</c>.</summary>
    internal static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "NaN":
                value = double.NaN;
                return true;
            case "+Inf" or "Inf" or "inf" or "+inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf" or "-inf":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static string Series(JsonElement result)
    {
        var text = new StringBuilder();
        var count = result.GetArrayLength();
        for (var i = 0; i < Math.Min(count, ShownSeries); i++)
        {
            if (i > 0) text.Append(", ");
            text.Append(Labels(result[i]));
        }
        if (count > ShownSeries) text.Append(CultureInfo.InvariantCulture, $", and {count - ShownSeries} more");
        return text.ToString();
    }

    /// <summary>A series' labels as PromQL writes a selector: <c>name{a="1", b="2"}</c>, <c>{}</c> when it has none.</summary>
    internal static string Labels(JsonElement series)
    {
        if (series.ValueKind != JsonValueKind.Object || !series.TryGetProperty("metric", out var metric) || metric.ValueKind != JsonValueKind.Object)
            return "{}";
        var text = new StringBuilder();
        if (String(metric, "__name__") is { } name) text.Append(name);
        text.Append('{');
        var first = true;
        foreach (var label in metric.EnumerateObject())
        {
            if (label.Name == "__name__") continue;
            if (!first) text.Append(", ");
            first = false;
            var value = label.Value.ValueKind == JsonValueKind.String ? label.Value.GetString() : label.Value.GetRawText();
            text.Append(label.Name).Append("=\"")
                .Append(value?.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
                    .Replace("\n", "\\n", StringComparison.Ordinal))
                .Append('"');
        }
        return text.Append('}').ToString();
    }

    private static string? ErrorText(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return null;
        var error = String(root, "error");
        var type = String(root, "errorType");
        return error is null ? type : type is null ? error : $"{type}: {error}";
    }

    private static string? String(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Status(int status, string? reason)
    {
        reason = string.IsNullOrEmpty(reason) ? Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) : reason;
        return string.IsNullOrEmpty(reason) ? status.ToString(CultureInfo.InvariantCulture) : $"{status} {reason}";
    }

    private static string Quote(string text)
    {
        text = text.Trim();
        return text.Length <= QuotedBody ? text : text[..QuotedBody] + "…";
    }
}

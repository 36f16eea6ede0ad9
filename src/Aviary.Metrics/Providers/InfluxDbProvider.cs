using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: influxdb</c>, as Flagger's InfluxDB provider: a Flux query through InfluxDB 2's query API,
/// <c>POST {address}/api/v2/query?org=&lt;org&gt;</c> with <c>Authorization: Token &lt;token&gt;</c> (the secret's <c>token</c> and
/// <c>org</c>, both required with a <c>secretRef</c>), answered as annotated CSV; the answer is <c>_value</c> of the first
/// record. Unlike Flagger, an answer without records (or a null <c>_value</c>) is no data, not 0, and an integer
/// <c>_value</c> counts as a number. <see cref="IsOnlineAsync"/> runs Flagger's query on the <c>default</c> bucket.
/// Errors carry InfluxDB's status and message, never the token.
/// </summary>
internal sealed class InfluxDbProvider : IMetricQueryProvider
{
    public const string TypeName = "influxdb";
    public const string OnlineQuery = "from(bucket: \"default\") |> range(start: -2h)";

    private readonly HttpApi _api;
    private readonly string _path;

    private InfluxDbProvider(HttpApi api, string? org)
    {
        _api = api;
        _path = "/api/v2/query" + (org is null ? "" : "?org=" + Uri.EscapeDataString(org));
    }

    public string Type => TypeName;

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context)
    {
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(null, $"{TypeName} address {context.Spec.Address} is not a valid URL");
        var headers = new Dictionary<string, string>();
        string? org = null;
        if (context.Spec.SecretRef is not null)
        {
            headers["Authorization"] = "Token " + setup.Credential("token", $"{TypeName} credentials do not contain an authentication token (key token)");
            org = setup.Credential("org", $"{TypeName} credentials do not contain an organisation (key org)");
        }
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        // Flagger's client allows 15 s per query.
        var timeout = context.Timeout > TimeSpan.FromSeconds(15) ? context.Timeout : TimeSpan.FromSeconds(15);
        return new InfluxDbProvider(new HttpApi(TypeName, url, headers, timeout, context.Time), org);
    }

    private Task<(HttpStatusCode Status, string Body, string? Error)> QueryAsync(string flux, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["query"] = flux,
            ["type"] = "flux",
            ["dialect"] = new Dictionary<string, object>
            {
                ["header"] = true,
                ["delimiter"] = ",",
                ["annotations"] = new[] { "datatype", "group", "default" },
                ["commentPrefix"] = "#",
                ["dateTimeFormat"] = "RFC3339",
            },
        });
        return _api.PostJsonAsync(_path, body, "application/csv", cancellationToken);
    }

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var (status, body, error) = await QueryAsync(query, cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, Message(body)));
        return FirstValue(body);
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await QueryAsync(OnlineQuery, cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status == HttpStatusCode.OK ? Outcome.Ok : Outcome.Fail(_api.Refused(status, Message(body)));
    }

    /// <summary>InfluxDB's error answers are <c>{"code":"…","message":"…"}</c>; the message is what a person needs.</summary>
    private static string Message(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                return message.GetString()!;
        }
        catch (JsonException)
        {
        }
        return body;
    }

    /// <summary>The <c>_value</c> of the first record of annotated CSV (InfluxDB 2's query answer format).</summary>
    internal static QueryResult FirstValue(string csv)
    {
        string[]? datatypes = null;
        string[]? header = null;
        foreach (var line in csv.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.Length == 0)
            {
                // A new table starts with its own annotations and header.
                datatypes = null;
                header = null;
                continue;
            }
            var fields = Fields(line);
            if (fields[0] == "#datatype")
            {
                datatypes = fields;
                continue;
            }
            if (fields[0].StartsWith('#')) continue;
            if (header is null)
            {
                header = fields;
                continue;
            }
            // An error met while the answer streamed comes as a table of its own: error, reference.
            if (header.Length > 1 && header[1] == "error")
                return QueryResult.Failed($"{TypeName} query failed: {(fields.Length > 1 ? fields[1] : "")}");
            var column = Array.IndexOf(header, "_value");
            if (column < 0) return QueryResult.Failed($"{TypeName} answer has no _value column (columns: {string.Join(", ", header.Skip(1))})");
            var text = column < fields.Length ? fields[column] : "";
            if (text.Length == 0) return QueryResult.NoData($"{TypeName} query's first record has no _value");
            var type = datatypes is not null && column < datatypes.Length ? datatypes[column] : "double";
            if (type is not ("double" or "long" or "unsignedLong"))
                return QueryResult.Failed($"{TypeName} query's _value is a {type} ('{HttpApi.Trim(text)}'), not a number");
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                return QueryResult.Failed($"{TypeName} query's _value '{HttpApi.Trim(text)}' is not a number");
            return double.IsFinite(value) ? QueryResult.Of(value) : QueryResult.NoData($"{TypeName} query's _value is {text}");
        }
        return QueryResult.NoData($"{TypeName} query returned no records");
    }

    /// <summary>One CSV line's fields (RFC 4180: quoted fields may hold commas and doubled quotes).</summary>
    private static string[] Fields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return [.. fields];
    }

    public void Dispose() => _api.Dispose();
}

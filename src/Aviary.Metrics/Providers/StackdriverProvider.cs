using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Providers;

/// <summary>
/// <c>type: stackdriver</c>, as Flagger's Stackdriver provider: an MQL query through Cloud Monitoring's
/// <c>projects.timeSeries.query</c> (REST: <c>POST {address}/v3/projects/&lt;project&gt;/timeSeries:query</c>); the answer is
/// the first value of the first point of the first series, and none is no data. With a <c>secretRef</c>, the secret's
/// <c>project</c> is required and its <c>serviceAccountKey</c> (a service account's JSON key) signs an RS256 JWT that is
/// exchanged at the key's <c>token_uri</c> for an access token (scope <c>monitoring.read</c>), cached until shortly before it
/// expires; without one, the key file named by <c>GOOGLE_APPLICATION_CREDENTIALS</c>. The address defaults to
/// <c>https://monitoring.googleapis.com</c>. <see cref="IsOnlineAsync"/> sends an empty query, as Flagger: 400
/// (INVALID_ARGUMENT) means the API answered and the credentials were accepted. Errors never carry the key or the token.
/// </summary>
internal sealed class StackdriverProvider : IMetricQueryProvider
{
    public const string TypeName = "stackdriver";
    public const string DefaultAddress = "https://monitoring.googleapis.com";
    public const string Scope = "https://www.googleapis.com/auth/monitoring.read";

    private readonly HttpApi _api;
    private readonly string _project;
    private readonly ServiceAccountKey _key;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _tokenGate = new(1, 1);
    private (string Token, DateTimeOffset Until)? _token;

    private StackdriverProvider(HttpApi api, string project, ServiceAccountKey key, TimeProvider time)
    {
        _api = api;
        _project = project;
        _key = key;
        _time = time;
    }

    public string Type => TypeName;

    /// <summary>What a service account's JSON key holds that the token exchange needs.</summary>
    internal sealed record ServiceAccountKey(string ClientEmail, string PrivateKeyPem, string? PrivateKeyId, Uri TokenUri, string? ProjectId)
    {
        public override string ToString() => $"ServiceAccountKey({ClientEmail}, private key hidden)";

        public static ServiceAccountKey? Parse(string json, out string? error)
        {
            error = null;
            try
            {
                using var document = JsonDocument.Parse(json);
                var root = document.RootElement;
                string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                var email = Text("client_email");
                var pem = Text("private_key");
                var tokenUri = Text("token_uri") ?? "https://oauth2.googleapis.com/token";
                if (email is null || pem is null || !Uri.TryCreate(tokenUri, UriKind.Absolute, out var uri))
                {
                    error = "the service account key needs client_email, private_key and a valid token_uri";
                    return null;
                }
                return new ServiceAccountKey(email, pem, Text("private_key_id"), uri, Text("project_id"));
            }
            catch (JsonException e)
            {
                error = $"the service account key is not JSON ({e.Message})";
                return null;
            }
        }
    }

    /// <param name="environment">Reads an environment variable (the process's by default).</param>
    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context, Func<string, string?>? environment)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var setup = new ProviderSetup(context, TypeName);
        var url = setup.Address(DefaultAddress);
        string? project = null;
        string? keyJson = null;
        if (context.Spec.SecretRef is not null)
        {
            project = setup.Credential("project", $"{TypeName} credentials do not contain a project id");
            keyJson = context.Credentials.GetValueOrDefault("serviceAccountKey");
        }
        if (setup.Error is { } error) return Outcome<IMetricQueryProvider>.Fail(error);
        if (keyJson is null && environment("GOOGLE_APPLICATION_CREDENTIALS") is { Length: > 0 } file)
        {
            try
            {
                keyJson = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Outcome<IMetricQueryProvider>.Fail($"{TypeName}: cannot read GOOGLE_APPLICATION_CREDENTIALS ({file}): {e.Message}");
            }
        }
        if (keyJson is null)
            return Outcome<IMetricQueryProvider>.Fail($"{TypeName}: no credentials (the secret's serviceAccountKey, or GOOGLE_APPLICATION_CREDENTIALS); the metadata server is not supported yet");
        if (ServiceAccountKey.Parse(keyJson, out var keyError) is not { } key) return Outcome<IMetricQueryProvider>.Fail($"{TypeName}: {keyError}");
        project ??= key.ProjectId;
        if (string.IsNullOrEmpty(project)) return Outcome<IMetricQueryProvider>.Fail($"{TypeName} credentials do not contain a project id");
        return new StackdriverProvider(new HttpApi(TypeName, url, new Dictionary<string, string>(), context.Timeout, context.Time), project, key, context.Time);
    }

    public static Outcome<IMetricQueryProvider> Create(MetricProviderContext context) => Create(context, null);

    public async ValueTask<QueryResult> RunQueryAsync(string query, CancellationToken cancellationToken)
    {
        var (status, body, error) = await QueryAsync(query, cancellationToken).ConfigureAwait(false);
        if (error is not null) return QueryResult.Failed(error);
        if (status != HttpStatusCode.OK) return QueryResult.Failed(_api.Refused(status, Message(body)));
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("timeSeriesData", out var series) || series.ValueKind != JsonValueKind.Array || series.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query returned no time series");
            if (!series[0].TryGetProperty("pointData", out var points) || points.ValueKind != JsonValueKind.Array || points.GetArrayLength() == 0
                || !points[0].TryGetProperty("values", out var values) || values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                return QueryResult.NoData($"{TypeName} query's first series has no point");
            var value = values[0];
            // doubleValue is a JSON number; int64Value, as every 64-bit integer in Google's JSON, is a string.
            if (value.TryGetProperty("doubleValue", out var d) && d.ValueKind == JsonValueKind.Number) return QueryResult.Of(d.GetDouble());
            if (value.TryGetProperty("int64Value", out var i) && long.TryParse(i.ValueKind == JsonValueKind.String ? i.GetString() : i.GetRawText(),
                    System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n)) return QueryResult.Of(n);
            return QueryResult.Failed($"{TypeName} query's value is not a number: {HttpApi.Trim(value.GetRawText())}");
        }
        catch (JsonException e)
        {
            return QueryResult.Failed($"{TypeName} answered something that is not JSON ({e.Message}): {HttpApi.Trim(body)}");
        }
    }

    public async ValueTask<Outcome> IsOnlineAsync(CancellationToken cancellationToken)
    {
        var (status, body, error) = await QueryAsync("", cancellationToken).ConfigureAwait(false);
        if (error is not null) return Outcome.Fail(error);
        return status is HttpStatusCode.OK or HttpStatusCode.BadRequest ? Outcome.Ok : Outcome.Fail(_api.Refused(status, Message(body)));
    }

    private async Task<(HttpStatusCode Status, string Body, string? Error)> QueryAsync(string mql, CancellationToken cancellationToken)
    {
        var (token, tokenError) = await TokenAsync(cancellationToken).ConfigureAwait(false);
        if (tokenError is not null) return (0, "", tokenError);
        var payload = Encoding.UTF8.GetBytes(new JsonObject { ["query"] = mql }.ToJsonString());
        return await _api.PostAsync($"/v3/projects/{Uri.EscapeDataString(_project)}/timeSeries:query", payload, "application/json",
            [new("Authorization", "Bearer " + token)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An access token for the service account (RFC 7523 JWT bearer grant), cached until a minute before it expires.</summary>
    private async Task<(string? Token, string? Error)> TokenAsync(CancellationToken cancellationToken)
    {
        await _tokenGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            if (_token is { } cached && cached.Until > now) return (cached.Token, null);
            using var exchange = new HttpApi(TypeName + " token endpoint", _key.TokenUri, new Dictionary<string, string>(), TimeSpan.FromSeconds(10), _time);
            var form = "grant_type=" + Uri.EscapeDataString("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + Uri.EscapeDataString(Assertion(now));
            var (status, body, error) = await exchange.PostAsync("", Encoding.ASCII.GetBytes(form), "application/x-www-form-urlencoded", [], cancellationToken).ConfigureAwait(false);
            if (error is not null) return (null, error);
            if (status != HttpStatusCode.OK) return (null, exchange.Refused(status, Message(body)));
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("access_token", out var token) || token.GetString() is not { Length: > 0 } value)
                return (null, $"{TypeName} token endpoint answered without an access_token");
            var lifetime = document.RootElement.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds) ? seconds : 3600;
            _token = (value, now + TimeSpan.FromSeconds(Math.Max(0, lifetime - 60)));
            return (value, null);
        }
        catch (JsonException e)
        {
            return (null, $"{TypeName} token endpoint answered something that is not JSON ({e.Message})");
        }
        catch (CryptographicException e)
        {
            return (null, $"{TypeName}: the service account's private_key cannot sign ({e.Message})");
        }
        finally
        {
            _tokenGate.Release();
        }
    }

    /// <summary>The signed JWT: RS256 over the service account's claims for <see cref="Scope"/>, valid one hour.</summary>
    private string Assertion(DateTimeOffset now)
    {
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT" };
        if (_key.PrivateKeyId is { } kid) header["kid"] = kid;
        var claims = new JsonObject
        {
            ["iss"] = _key.ClientEmail,
            ["scope"] = Scope,
            ["aud"] = _key.TokenUri.ToString(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.ToUnixTimeSeconds() + 3600,
        };
        var unsigned = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        using var rsa = RSA.Create();
        rsa.ImportFromPem(_key.PrivateKeyPem);
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(unsigned), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return unsigned + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Google's JSON errors: <c>{"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT"}}</c>; OAuth's: <c>{"error":"…","error_description":"…"}</c>.</summary>
    private static string Message(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.Object)
                    return $"{(error.TryGetProperty("status", out var s) ? s.GetString() : "")}: {(error.TryGetProperty("message", out var m) ? m.GetString() : "")}";
                if (error.ValueKind == JsonValueKind.String)
                    return $"{error.GetString()}: {(root.TryGetProperty("error_description", out var d) ? d.GetString() : "")}";
            }
        }
        catch (JsonException)
        {
        }
        return body;
    }

    public void Dispose()
    {
        _api.Dispose();
        _tokenGate.Dispose();
    }
}

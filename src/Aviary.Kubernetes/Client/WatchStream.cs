using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aviary.Kubernetes.Client;

/// <summary>A watch event before conversion to the caller's type.</summary>
internal sealed record RawEvent(WatchEventType Type, JsonObject? Object, string? ResourceVersion, KubeError? Error);

/// <summary>
/// One open watch: the API server's stream of JSON events, one per line (<c>{"type":"ADDED","object":{…}}</c>).
/// <see cref="NextAsync"/> returns null when the stream ends; <see cref="Failure"/> then says whether it broke.
/// </summary>
internal sealed class WatchStream : IDisposable
{
    private const int MaxLineBytes = 16 * 1024 * 1024;

    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly CancellationTokenSource _deadline;

    private WatchStream(HttpResponseMessage response, Stream body, CancellationTokenSource deadline)
    {
        _response = response;
        _deadline = deadline;
        _reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);
    }

    /// <summary>Why the stream ended, when it broke (connection reset, unreadable event); null when the server closed it.</summary>
    public KubeError? Failure { get; private set; }

    /// <param name="deadline">
    /// When the client gives up on the stream although the server has not closed it (the server's timeoutSeconds
    /// plus a margin): a connection that died without a FIN then ends like a normal one, and the watch resumes.
    /// </param>
    public static async Task<(WatchStream? Stream, KubeError? Error)> OpenAsync(KubeClient client, string pathAndQuery, TimeSpan deadline,
        CancellationToken cancellationToken)
    {
        var (response, error) = await client.OpenStreamAsync(pathAndQuery, cancellationToken).ConfigureAwait(false);
        if (response is null) return (null, error);
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return (new WatchStream(response, body, new CancellationTokenSource(deadline, client.Time)), null);
        }
        catch (HttpRequestException e)
        {
            response.Dispose();
            return (null, KubeError.Client(KubeErrorReason.Unreachable, "the watch stream broke: " + e.Message));
        }
    }

    public async Task<RawEvent?> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            string? line;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline.Token);
            try
            {
                line = await _reader.ReadLineAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or ObjectDisposedException)
            {
                Failure = KubeError.Client(KubeErrorReason.Unreachable, "the watch stream broke: " + e.Message);
                return null;
            }
            if (line is null) return null;
            if (line.Length == 0) continue;
            if (line.Length > MaxLineBytes)
            {
                Failure = KubeError.Client(KubeErrorReason.ClientError, "a watch event is larger than 16 MiB");
                return null;
            }
            var parsed = Parse(line);
            if (parsed is null)
            {
                Failure = KubeError.Client(KubeErrorReason.ClientError, "the watch sent a line that is not an event: " + Truncate(line));
                return null;
            }
            return parsed;
        }
    }

    internal static RawEvent? Parse(string line)
    {
        JsonObject? node;
        try
        {
            node = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
        if (node?["type"] is not JsonValue typeValue || !typeValue.TryGetValue<string>(out var type)) return null;
        var obj = node["object"] as JsonObject;
        if (type == "ERROR")
        {
            var status = obj?.Deserialize<KubeStatus>(KubeJson.Options);
            var code = status?.Code ?? 0;
            var error = new KubeError(code, KubeError.ReasonOf(status?.Reason, code), status?.Message ?? "watch error", status);
            return new RawEvent(WatchEventType.Error, null, null, error);
        }
        var kind = type switch
        {
            "ADDED" => WatchEventType.Added,
            "MODIFIED" => WatchEventType.Modified,
            "DELETED" => WatchEventType.Deleted,
            "BOOKMARK" => WatchEventType.Bookmark,
            _ => (WatchEventType?)null,
        };
        if (kind is null || obj is null) return null;
        obj.Parent?.AsObject().Remove("object");
        return new RawEvent(kind.Value, obj, KubeJson.ResourceVersion(obj), null);
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    public void Dispose()
    {
        _deadline.Dispose();
        _reader.Dispose();
        _response.Dispose();
    }
}

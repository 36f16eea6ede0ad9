using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// The bearer token of a configuration: inline, or read from a file again once <see cref="KubeClientOptions.TokenRefreshInterval"/>
/// has passed (projected ServiceAccount tokens rotate, hourly by default). When a later read fails, the previous
/// token is kept, as client-go does.
/// </summary>
internal sealed class TokenSource(KubeCredentials credentials, TimeSpan refreshInterval, TimeProvider time, ILogger logger)
{
    private readonly Lock _gate = new();
    private string? _cached;
    private long _readAt;

    /// <summary>The token to send, null when there is none, or an error when a token file was never readable.</summary>
    public (string? Token, string? Error) Current()
    {
        if (credentials.Token is { } token) return (token, null);
        if (credentials.TokenFile is not { } path) return (null, null);
        lock (_gate)
        {
            if (_cached is not null && time.GetElapsedTime(_readAt) < refreshInterval) return (_cached, null);
            try
            {
                var text = File.ReadAllText(path).Trim();
                if (text.Length == 0) throw new IOException("the file is empty");
                _cached = text;
                _readAt = time.GetTimestamp();
                return (_cached, null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (_cached is not null)
                {
                    KubeClientLog.TokenFileUnreadable(logger, path, e.Message);
                    _readAt = time.GetTimestamp();
                    return (_cached, null);
                }
                return (null, $"cannot read the token file {path}: {e.Message}");
            }
        }
    }
}

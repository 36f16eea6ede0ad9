using Microsoft.Extensions.Logging;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// The bearer token of a configuration: inline, or read from a file again once <see cref="KubeClientOptions.TokenRefreshInterval"/>
/// has passed (projected ServiceAccount tokens rotate, hourly by default). When a later read fails, the previous
/// token is kept, as client-go does. From an exec plugin: run when first needed, again once its token expired or
/// after the server refused it (<see cref="Invalidate"/>).
/// </summary>
internal sealed class TokenSource(KubeCredentials credentials, TimeSpan refreshInterval, TimeProvider time, ILogger logger)
{
    private readonly Lock _gate = new();
    private string? _cached;
    private long _readAt;
    private string? _execToken;
    private DateTimeOffset? _execExpires;

    /// <summary>The token to send, null when there is none, or an error when a token file was never readable.</summary>
    public (string? Token, string? Error) Current()
    {
        if (credentials.Token is { } token) return (token, null);
        if (credentials.Exec is { } exec) return FromPlugin(exec);
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

    /// <summary>Forgets a plugin's token after the server refused it (401), so that the next request runs the plugin again.</summary>
    public bool Invalidate()
    {
        if (credentials.Exec is null) return false;
        lock (_gate) _execToken = null;
        return true;
    }

    private (string? Token, string? Error) FromPlugin(ExecCredentialPlugin exec)
    {
        lock (_gate)
        {
            if (_execToken is not null && (_execExpires is not { } expires || time.GetUtcNow() < expires)) return (_execToken, null);
            var (token, until, error) = exec.Run();
            if (error is not null) return (null, error);
            (_execToken, _execExpires) = (token, until);
            return (token, null);
        }
    }
}

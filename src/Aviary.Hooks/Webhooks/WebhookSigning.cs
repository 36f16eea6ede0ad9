using Aviary.Hooks.Secrets;

namespace Aviary.Hooks.Webhooks;

/// <summary>
/// Where the secret that signs webhook calls comes from (Aviary's addition to Flagger's webhooks): exactly one of a
/// file (its content without the final newline) or an environment variable. With it, every call carries
/// <c>X-Aviary-Timestamp</c> and <c>X-Aviary-Signature</c> (see <see cref="WebhookSignature"/>), so a receiver can tell
/// that the controller called. Holds only where the secret is, never the secret, and the secret is never logged.
/// </summary>
public sealed record WebhookSigning
{
    /// <summary>A file holding the secret, e.g. a mounted Secret's key. Wins over <see cref="SecretEnvironmentVariable"/>.</summary>
    public string? SecretFile { get; init; }

    /// <summary>An environment variable holding the secret.</summary>
    public string? SecretEnvironmentVariable { get; init; }

    /// <summary>
    /// Reads the secret as bytes (UTF-8). Throws <see cref="InvalidOperationException"/> when neither source is set, the
    /// file cannot be read or the value is empty: signing was asked for and cannot be done.
    /// </summary>
    /// <param name="environment">Reads an environment variable; the process environment by default.</param>
    public byte[] ReadSecret(Func<string, string?>? environment = null)
    {
        if (!SecretSetting.TryRead(SecretFile, SecretEnvironmentVariable, environment ?? Environment.GetEnvironmentVariable, "webhook signing secret", out var secret))
            throw new InvalidOperationException("webhook signing needs a secret file or environment variable");
        return System.Text.Encoding.UTF8.GetBytes(secret);
    }
}

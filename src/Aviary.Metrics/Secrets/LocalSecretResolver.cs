using System.Text;
using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Secrets;

/// <summary>
/// Secrets outside Kubernetes. A secret named N is read from the environment — one variable per well-known key,
/// <c>AVIARY_SECRET_&lt;N&gt;_&lt;KEY&gt;</c> with N and KEY upper-cased and every other character than a letter or
/// a digit turned into <c>_</c> (e.g. <c>AVIARY_SECRET_PROM_AUTH_TOKEN</c> for key <c>token</c> of <c>prom-auth</c>) — and
/// from the files of <c>&lt;secretsDir&gt;/N/</c>, one per key (the layout of a Secret mounted as a volume), with a final
/// newline removed. A variable wins over a file of the same key. The namespace is not used: a local controller has
/// one set of secrets.
/// </summary>
public sealed class LocalSecretResolver : ISecretResolver
{
    public const string EnvironmentPrefix = "AVIARY_SECRET_";

    private readonly Func<string, string?> _environment;

    /// <param name="secretsDir">The folder holding one folder per secret; null to use the environment only.</param>
    /// <param name="environment">Reads an environment variable; the process environment by default.</param>
    public LocalSecretResolver(string? secretsDir = null, Func<string, string?>? environment = null)
    {
        SecretsDir = secretsDir;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The keys looked up in the environment (files may hold any key).</summary>
    public static IReadOnlyList<string> EnvironmentKeys { get; } = ["token", "username", "password", "address"];

    public string? SecretsDir { get; }

    /// <summary>The environment variable of <paramref name="key"/> of secret <paramref name="secret"/>.</summary>
    public static string EnvironmentVariable(string secret, string key) => EnvironmentPrefix + Sanitize(secret) + "_" + Sanitize(key);

    public ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ValueTask.FromResult(Get(name));
    }

    private Outcome<IReadOnlyDictionary<string, string>> Get(string name)
    {
        if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name.StartsWith('.'))
            return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret name '{name}' is not valid");
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (SecretsDir is not null)
        {
            var dir = Path.Combine(SecretsDir, name);
            if (Directory.Exists(dir))
            {
                try
                {
                    foreach (var file in Directory.EnumerateFiles(dir))
                    {
                        var key = Path.GetFileName(file);
                        // A mounted Secret also holds ..data and timestamped folders; keys never start with a dot.
                        if (key.StartsWith('.')) continue;
                        data[key] = File.ReadAllText(file).TrimEnd('\n').TrimEnd('\r');
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret {name}: cannot read {dir}: {e.Message}");
                }
            }
        }
        foreach (var key in EnvironmentKeys)
        {
            if (_environment(EnvironmentVariable(name, key)) is { } value) data[key] = value;
        }
        if (data.Count > 0) return data;
        var where = $"set {EnvironmentVariable(name, "token")} (or {EnvironmentVariable(name, "username")} and {EnvironmentVariable(name, "password")})";
        if (SecretsDir is not null) where += $", or write the keys as files in {Path.Combine(SecretsDir, name)}/";
        return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret {name} not found: {where}");
    }

    private static string Sanitize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (var c in text) result.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        return result.ToString();
    }
}

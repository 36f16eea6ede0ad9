using System.Text;
using Aviary.Core.Abstractions;

namespace Aviary.Hooks.Secrets;

/// <summary>
/// Secrets outside Kubernetes, by the convention the metric providers use too. Key K of a secret named N is read from
/// the environment variable <c>AVIARY_SECRET_&lt;N&gt;_&lt;K&gt;</c> (N and K upper-cased, every character other than
/// a letter or a digit turned into <c>_</c>: key <c>address</c> of <c>slack-hook</c> is
/// <c>AVIARY_SECRET_SLACK_HOOK_ADDRESS</c>) for the well-known keys <see cref="EnvironmentKeys"/>, and from the files of
/// <c>&lt;secretsDir&gt;/N/</c>, one per key (the layout of a Secret mounted as a volume) without their final newline.
/// A variable wins over a file of the same key. The namespace is not used: a local controller has one set of secrets.
/// </summary>
public sealed class EnvironmentSecrets : ISecretSource
{
    /// <summary>The prefix of every secret's environment variables.</summary>
    public const string EnvironmentPrefix = "AVIARY_SECRET_";

    private readonly Func<string, string?> _environment;

    /// <param name="secretsDirectory">The folder holding one folder per secret; null to read the environment only.</param>
    /// <param name="environment">Reads an environment variable; the process environment by default.</param>
    public EnvironmentSecrets(string? secretsDirectory = null, Func<string, string?>? environment = null)
    {
        SecretsDirectory = secretsDirectory;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The keys looked up in the environment (files may hold any key).</summary>
    public static IReadOnlyList<string> EnvironmentKeys { get; } = ["address", "token", "username", "password"];

    /// <summary>The folder holding one folder per secret, or null.</summary>
    public string? SecretsDirectory { get; }

    /// <summary>The environment variable of <paramref name="key"/> of the secret <paramref name="secret"/>.</summary>
    public static string EnvironmentVariable(string secret, string key)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(key);
        return EnvironmentPrefix + Sanitize(secret) + "_" + Sanitize(key);
    }

    public ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ValueTask.FromResult(Get(name));
    }

    private Outcome<IReadOnlyDictionary<string, string>> Get(string name)
    {
        if (name.Length == 0 || name is "." or ".." || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal))
            return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret name '{name}' is not valid");
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (SecretsDirectory is not null)
        {
            var dir = Path.Combine(SecretsDirectory, name);
            if (Directory.Exists(dir))
            {
                try
                {
                    foreach (var file in Directory.EnumerateFiles(dir))
                    {
                        var key = Path.GetFileName(file);
                        // A mounted Secret also holds ..data and timestamped entries; keys never start with a dot.
                        if (key.StartsWith('.')) continue;
                        data[key] = TrimNewline(File.ReadAllText(file));
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
        var where = $"set {EnvironmentVariable(name, "address")} (or another key's variable)";
        if (SecretsDirectory is not null) where += $", or write its keys as files in {Path.Combine(SecretsDirectory, name)}/";
        return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret {name} not found: {where}");
    }

    internal static string TrimNewline(string text) =>
        text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;

    private static string Sanitize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (var c in text) result.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        return result.ToString();
    }
}

using System.Diagnostics.CodeAnalysis;

namespace Aviary.Hooks.Secrets;

/// <summary>Reads a secret configured as a file or an environment variable; errors name where, never the value.</summary>
internal static class SecretSetting
{
    /// <summary>
    /// Reads the secret from <paramref name="file"/> (without its final newline) or, when that is null, from the
    /// variable <paramref name="variable"/>. Returns false with <paramref name="value"/> null when neither is set;
    /// throws <see cref="InvalidOperationException"/> when one is set but cannot be read or is empty.
    /// </summary>
    public static bool TryRead(string? file, string? variable, Func<string, string?> environment, string what, [NotNullWhen(true)] out string? value)
    {
        value = null;
        if (!string.IsNullOrEmpty(file))
        {
            try
            {
                value = EnvironmentSecrets.TrimNewline(File.ReadAllText(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                throw new InvalidOperationException($"cannot read the {what} from {file}: {e.Message}", e);
            }
            if (value.Length == 0) throw new InvalidOperationException($"the {what} file {file} is empty");
            return true;
        }
        if (!string.IsNullOrEmpty(variable))
        {
            value = environment(variable);
            if (string.IsNullOrEmpty(value)) throw new InvalidOperationException($"the {what} variable {variable} is not set or empty");
            return true;
        }
        return false;
    }
}

using System.Security.Cryptography;

namespace Aviary.Local.Controller;

/// <summary>The API token: generated at first start, stored with mode 0600 in the state directory.</summary>
public static class ApiToken
{
    public static string LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length >= 32) return existing;
        }
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        AtomicFile.Write(path, token + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return token;
    }

    /// <summary>Reads the token a controller created, for the CLI.</summary>
    public static string? Read(string stateDir)
    {
        var path = Path.Combine(stateDir, "token");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}

using System.ComponentModel.DataAnnotations;

namespace Aviary.Core.Model;

/// <summary>A Flagger AlertProvider: where alerts of the canaries that reference it go.</summary>
public sealed record AlertProvider : IManifest
{
    public const string KindName = "AlertProvider";

    public string ApiVersion { get; init; } = FlaggerApi.Version;
    public string Kind { get; init; } = KindName;
    [Required] public ObjectMeta Metadata { get; init; } = new();
    [Required] public AlertProviderSpec Spec { get; init; } = new();
}

public sealed record AlertProviderSpec
{
    /// <summary>Flagger's types, plus Aviary's <c>generic</c> JSON webhook.</summary>
    [Required, AllowedValues("slack", "msteams", "discord", "rocket", "gchat", "generic")]
    public string Type { get; init; } = "";

    public string? Channel { get; init; }
    public string? Username { get; init; }

    /// <summary>Webhook address; exactly one of this and <see cref="SecretRef"/>.</summary>
    public string? Address { get; init; }
    public string? Proxy { get; init; }
    public SecretReference? SecretRef { get; init; }
}

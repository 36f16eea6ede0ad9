using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;

namespace Aviary.Core.Model;

/// <summary>Kubernetes object metadata: the subset Aviary reads and writes.</summary>
public sealed record ObjectMeta
{
    [Required]
    public string Name { get; init; } = "";

    /// <summary>Namespace; empty means "default" (as kubectl does).</summary>
    public string? Namespace { get; init; }

    public string? GenerateName { get; init; }
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    public string? Uid { get; init; }
    public string? ResourceVersion { get; init; }
    public long? Generation { get; init; }
    public string? CreationTimestamp { get; init; }
    public string? DeletionTimestamp { get; init; }
    public long? DeletionGracePeriodSeconds { get; init; }
    public IReadOnlyList<string>? Finalizers { get; init; }
    public IReadOnlyList<OwnerReference>? OwnerReferences { get; init; }
    public JsonArray? ManagedFields { get; init; }

    /// <summary>The namespace Aviary uses: <see cref="Namespace"/>, or <c>default</c>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string EffectiveNamespace => string.IsNullOrEmpty(Namespace) ? "default" : Namespace;
}

public sealed record OwnerReference
{
    [Required] public string ApiVersion { get; init; } = "";
    [Required] public string Kind { get; init; } = "";
    [Required] public string Name { get; init; } = "";
    [Required] public string Uid { get; init; } = "";
    public bool? Controller { get; init; }
    public bool? BlockOwnerDeletion { get; init; }
}

/// <summary>A reference to an object in the same namespace.</summary>
public sealed record LocalObjectReference
{
    public string? ApiVersion { get; init; }
    public string? Kind { get; init; }
    [Required] public string Name { get; init; } = "";
}

/// <summary>A reference to an object by name, optionally in another namespace.</summary>
public sealed record CrossNamespaceObjectReference
{
    public string? ApiVersion { get; init; }
    public string? Kind { get; init; }
    [Required] public string Name { get; init; } = "";
    public string? Namespace { get; init; }
}

/// <summary>A named reference with an optional namespace (template and provider references).</summary>
public sealed record NamedReference
{
    [Required] public string Name { get; init; } = "";
    public string? Namespace { get; init; }
}

/// <summary>A reference to a Secret by name.</summary>
public sealed record SecretReference
{
    [Required] public string Name { get; init; } = "";
}

/// <summary>Labels and annotations put on a generated object.</summary>
public sealed record CustomMetadata
{
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

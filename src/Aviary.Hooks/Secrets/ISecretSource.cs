using Aviary.Core.Abstractions;

namespace Aviary.Hooks.Secrets;

/// <summary>
/// Finds the data of a Secret an object refers to by name (an AlertProvider's <c>spec.secretRef</c>). Outside
/// Kubernetes it is <see cref="EnvironmentSecrets"/>; the Kubernetes runtime reads Secrets.
/// </summary>
public interface ISecretSource
{
    /// <summary>
    /// The secret's keys and values (e.g. <c>address</c>, <c>token</c>), or an error saying where it was looked for.
    /// Values never appear in an error.
    /// </summary>
    ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken);
}


namespace Aviary.Core.Abstractions;

/// <summary>
/// Finds the data of a Secret an object refers to by name (an AlertProvider or MetricTemplate <c>spec.secretRef</c>). Outside
/// Kubernetes it is Aviary.Hooks.Secrets.EnvironmentSecrets (environment variables and files); the Kubernetes runtime reads Secrets.
/// </summary>
public interface ISecretSource
{
    /// <summary>
    /// The secret's keys and values (e.g. <c>address</c>, <c>token</c>), or an error saying where it was looked for.
    /// Values never appear in an error.
    /// </summary>
    ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken);
}

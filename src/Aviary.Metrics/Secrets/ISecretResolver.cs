using Aviary.Core.Abstractions;

namespace Aviary.Metrics.Secrets;

/// <summary>
/// Finds the data of a Secret a MetricTemplate refers to (<c>spec.provider.secretRef</c>). The local runtime reads
/// the environment and a folder (<see cref="LocalSecretResolver"/>); the Kubernetes runtime reads Secrets.
/// </summary>
public interface ISecretResolver
{
    /// <summary>The secret's keys and values (e.g. <c>token</c>, <c>username</c>, <c>password</c>, <c>address</c>),
    /// or an error saying where it was looked for. Values never appear in an error.</summary>
    ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken);
}

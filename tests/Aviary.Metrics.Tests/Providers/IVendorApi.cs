using Aviary.Core.Model;

namespace Aviary.Metrics.Tests.Providers;

/// <summary>
/// A running local server that answers as one vendor's documented metrics API does. Each provider's test class is one
/// (its server is the one its own tests query), so the corpus templates' scenarios
/// (<see cref="Conformance.TemplateConformanceTests"/>) run against the same documented request and answer shapes.
/// </summary>
internal interface IVendorApi : IAsyncLifetime
{
    /// <summary><c>spec.provider.type</c>.</summary>
    string Type { get; }

    /// <summary>The clock the server checks requests against (signatures, token claims): the provider's must be this one.</summary>
    TimeProvider Time { get; }

    /// <summary><paramref name="corpus"/>'s provider pointed at this server (its address; a region the server signs for).</summary>
    MetricTemplateProvider Redirect(MetricTemplateProvider corpus);

    /// <summary>The keys and values of the secret this server accepts (for a template's <c>secretRef</c>, or the environment's).</summary>
    IReadOnlyDictionary<string, string> Credentials { get; }

    /// <summary>
    /// From now on, an authenticated query about <paramref name="target"/> is answered with <paramref name="value"/>
    /// (a documented-API server answers any query so; a real server is fed data about the target that gives it).
    /// </summary>
    Task AnswerAsync(string target, double value);

    /// <summary>The queries this server received, as the vendor's API received them (the query text).</summary>
    IReadOnlyList<string> Received { get; }
}

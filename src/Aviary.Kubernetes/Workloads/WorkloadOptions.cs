namespace Aviary.Kubernetes.Workloads;

/// <summary>
/// How the Kubernetes workloads and Services read a target and name what they create; the defaults are Flagger's
/// (its <c>-selector-labels</c> and <c>-include-label-prefix</c> flags).
/// </summary>
public sealed record WorkloadOptions
{
    /// <summary>Shared defaults.</summary>
    public static WorkloadOptions Default { get; } = new();

    /// <summary>
    /// The pod labels, in order, of which the first found in the target's <c>spec.selector.matchLabels</c> is the
    /// selector label: its value gets the <c>-primary</c> suffix on the primary, and the Services select by it.
    /// Default Flagger's: <c>app</c>, <c>name</c>, <c>app.kubernetes.io/name</c>.
    /// </summary>
    public IReadOnlyList<string> SelectorLabels { get; init; } = ["app", "name", "app.kubernetes.io/name"];

    /// <summary>
    /// Prefixes of the target's labels (and of its ConfigMaps' and Secrets' labels) copied to the primary and the
    /// config copies; <c>*</c> copies all. Default none, as Flagger: only the selector label is set.
    /// </summary>
    public IReadOnlyList<string> IncludeLabelPrefixes { get; init; } = [];
}

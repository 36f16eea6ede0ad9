using System.Text.RegularExpressions;
using Aviary.Metrics.Templates;

namespace Aviary.Metrics.Observers;

/// <summary>
/// Skipper's route metrics of the canary ingress; the duration is a mean. Flagger builds the route regex
/// <c>kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?</c> with a Go template
/// variable and <c>printf</c>; it is written out in each selector here, with the same result. As in Flagger, every
/// non-word character of the names becomes <c>_</c>, as Skipper writes its route ids.
/// </summary>
internal static partial class Skipper
{
    public static ObserverQueries Queries { get; } = new(
        "skipper",
        SuccessRate: """
            sum(rate(skipper_response_duration_seconds_bucket{route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?",code!~"5..",le="+Inf"}[{{ interval }}])) /
            sum(rate(skipper_response_duration_seconds_bucket{route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?",le="+Inf"}[{{ interval }}])) * 100
            """,
        Duration: """
            sum(rate(skipper_serve_route_duration_seconds_sum{route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"}[{{ interval }}])) /
            sum(rate(skipper_serve_route_duration_seconds_count{route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"}[{{ interval }}])) * 1000
            """)
    {
        PrepareModel = Encode,
    };

    private static MetricTemplateModel Encode(MetricTemplateModel model) => model with
    {
        Name = NonWord().Replace(model.Name, "_"),
        Namespace = NonWord().Replace(model.Namespace, "_"),
        Target = NonWord().Replace(model.Target, "_"),
        Service = NonWord().Replace(model.Service, "_"),
        Ingress = NonWord().Replace(model.Ingress, "_"),
    };

    [GeneratedRegex(@"[^a-zA-Z0-9_]")]
    private static partial Regex NonWord();
}

namespace Aviary.Core.Observability;

/// <summary>
/// The range of log event ids each assembly uses, so that an id names one event across the whole system (a filter
/// on an id, or an alert on it, never matches two events). A test reads every <c>[LoggerMessage]</c> by reflection and
/// checks its id is in its assembly's range and used once.
/// </summary>
public static class LogEvents
{
    /// <summary>Assembly name → its first and last event id.</summary>
    public static IReadOnlyDictionary<string, (int First, int Last)> Ranges { get; } = new Dictionary<string, (int, int)>(StringComparer.Ordinal)
    {
        ["Aviary.Demo"] = (1, 99),
        ["Aviary.Routing"] = (100, 999), // HAProxy 100–199, the built-in proxy 500–599
        ["Aviary.Local"] = (1000, 2999), // runner 1000s, controller 1100s, log notifier 1200s, instances 2000s
        ["Aviary.Hooks"] = (3000, 3999), // notifiers 3100s, load tester 3200s
        ["Aviary.Kubernetes"] = (4000, 5999), // operator 4000s, client 5000s, workloads 5100s, Services 5200s, routers 5300s
        ["Aviary.Metrics"] = (6000, 6999),
        ["Aviary.Core"] = (7000, 7999),
        ["aviary"] = (8000, 8999), // Aviary.Cli
    };
}

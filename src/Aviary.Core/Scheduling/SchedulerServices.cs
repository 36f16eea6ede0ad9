namespace Aviary.Core.Scheduling;

/// <summary>The services a tick observes and acts through.</summary>
public sealed record SchedulerServices(
    Abstractions.IWorkload Workload,
    Abstractions.IRouter Router,
    Abstractions.IMetricProvider Metrics,
    Abstractions.IWebhookClient Webhooks,
    Abstractions.INotifier Notifier,
    TimeProvider Time,
    Abstractions.IArmCounters? Arms = null);

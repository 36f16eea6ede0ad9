namespace Aviary.Core.Scheduling;

/// <summary>The result of one check of an analysis tick.</summary>
public enum CheckResult
{
    Pass,
    Fail,
    NoData,
    Error,
}

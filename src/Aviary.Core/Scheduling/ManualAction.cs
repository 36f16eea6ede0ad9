namespace Aviary.Core.Scheduling;

/// <summary>A requested action, with who asked and when (both go into the events).</summary>
public sealed record ManualAction(ManualActionKind Kind, string RequestedBy, DateTimeOffset RequestedAt)
{
    public static bool TryParse(string text, out ManualActionKind kind) =>
        Enum.TryParse(text, ignoreCase: true, out kind) && Enum.IsDefined(kind) && !int.TryParse(text, out _);

    public string Verb => Kind.ToString().ToLowerInvariant();
}

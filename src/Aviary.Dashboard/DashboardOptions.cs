namespace Aviary.Dashboard;

/// <summary>What a visitor without a session may do.</summary>
public enum AnonymousAccess
{
    /// <summary>Look, never act (the local default).</summary>
    View,

    /// <summary>Nothing: every page asks for the token first.</summary>
    None,
}

/// <summary>How the dashboard behaves; the runtimes expose these as flags (<c>--dashboard-read-only</c>, …).</summary>
public sealed record DashboardOptions
{
    /// <summary>No action buttons, and the action calls are refused on the server.</summary>
    public bool ReadOnly { get; init; }

    public AnonymousAccess Anonymous { get; init; } = AnonymousAccess.View;

    /// <summary>How often the live stream looks for changes (and sends them when there are any).</summary>
    public TimeSpan StreamInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A session ends this long after it was last used.</summary>
    public TimeSpan SessionIdleTimeout { get; init; } = TimeSpan.FromHours(8);

    /// <summary>Shown in the header: <c>local</c> or <c>kubernetes</c>.</summary>
    public string Runtime { get; init; } = "local";
}

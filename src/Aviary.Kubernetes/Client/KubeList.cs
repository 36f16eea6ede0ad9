using System.Text.Json.Serialization;

namespace Aviary.Kubernetes.Client;

/// <summary>A list answer: the items and the list's metadata (resourceVersion to watch from, continue token).</summary>
public sealed record KubeList<T>
{
    public string? ApiVersion { get; init; }

    public string? Kind { get; init; }

    public ListMeta Metadata { get; init; } = new();

    public IReadOnlyList<T> Items { get; init; } = [];
}

/// <summary>meta/v1 ListMeta.</summary>
public sealed record ListMeta
{
    /// <summary>The version of the whole list: watch from it to see every change after the list.</summary>
    public string? ResourceVersion { get; init; }

    /// <summary>Set when more pages follow.</summary>
    [JsonPropertyName("continue")]
    public string? Continue { get; init; }

    /// <summary>How many items the next pages hold (an estimate; not always sent).</summary>
    public long? RemainingItemCount { get; init; }
}

/// <summary>What a watch event says.</summary>
public enum WatchEventType
{
    /// <summary>The object was created (or, after a list, is new to the watcher).</summary>
    Added,

    /// <summary>The object changed.</summary>
    Modified,

    /// <summary>The object was deleted; <see cref="WatchEvent{T}.Object"/> is its last state.</summary>
    Deleted,

    /// <summary>Only the resourceVersion moved forward (single watches only; <see cref="ResourceClient{T}.WatchAllAsync"/> keeps it to itself).</summary>
    Bookmark,

    /// <summary>
    /// A failure: in a single watch, the server's ERROR event or a failed start (the stream ends); in
    /// <see cref="ResourceClient{T}.WatchAllAsync"/>, a failure it retries after a backoff (410 is handled silently by listing).
    /// </summary>
    Error,

    /// <summary>
    /// <see cref="ResourceClient{T}.WatchAllAsync"/> only: a list has been applied (the first, or a re-list after 410),
    /// and the events before this one describe every object that exists. <see cref="WatchEvent{T}.ResourceVersion"/> is the list's.
    /// </summary>
    Synced,
}

/// <summary>One event of a watch.</summary>
/// <param name="Type">What happened.</param>
/// <param name="Object">The object (Added, Modified, Deleted; for Bookmark only its metadata is meaningful); null for Error and Synced.</param>
/// <param name="ResourceVersion">The resourceVersion the watch has reached with this event.</param>
/// <param name="Error">The failure, for Error.</param>
public sealed record WatchEvent<T>(WatchEventType Type, T? Object, string? ResourceVersion, KubeError? Error = null)
    where T : class;

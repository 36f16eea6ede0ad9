using System.Text.Json.Nodes;
using Aviary.Dashboard;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Operator;

/// <summary>
/// The operator dashboard's access: the user's bearer token is verified by the API server (<c>TokenReview</c>), and every
/// request is authorised by it (<c>SubjectAccessReview</c>): <c>get</c> a canary or <c>list</c> canaries to view,
/// <c>patch</c> (or <c>update</c>) the canary to act. The operator's own ServiceAccount needs
/// <c>create</c> on tokenreviews and subjectaccessreviews (the <c>system:auth-delegator</c> ClusterRole). Tokens are
/// sent to the API server only, in a request body, never in a path, a log line or an event.
/// </summary>
public sealed class KubeDashboardAccess(KubeClient client) : IDashboardAccess
{
    private const string Group = "flagger.app";
    private const string Resource = "canaries";

    public string TokenHint => "a Kubernetes bearer token (e.g. kubectl create token NAME)";

    public async ValueTask<(DashboardUser? User, string? Error)> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        var review = await client.SendAsync(HttpMethod.Post, "/apis/authentication.k8s.io/v1/tokenreviews", new JsonObject
        {
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["kind"] = "TokenReview",
            ["spec"] = new JsonObject { ["token"] = token },
        }, cancellationToken);
        if (!review.Succeeded) return (null, $"the API server could not review it ({review.Error!.Code} {review.Error.Reason})");
        var status = review.Value?["status"];
        if (status?["authenticated"]?.GetValue<bool>() != true)
            return (null, status?["error"]?.GetValue<string>() is { Length: > 0 } why ? $"the API server says: {why}" : "the API server does not know it");
        var user = status["user"];
        var name = user?["username"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name)) return (null, "the API server named no user for it");
        var groups = (user!["groups"] as JsonArray)?.Select(g => g?.GetValue<string>()).OfType<string>().ToList() ?? [];
        var extra = (user["extra"] as JsonObject)?.ToDictionary(e => e.Key,
            e => (IReadOnlyList<string>)((e.Value as JsonArray)?.Select(v => v?.GetValue<string>()).OfType<string>().ToList() ?? []));
        return (new DashboardUser(name, groups, user["uid"]?.GetValue<string>(), extra), null);
    }

    public async ValueTask<AccessDecision> AuthorizeAsync(DashboardUser user, DashboardVerb verb, string? ns, string? name, CancellationToken cancellationToken)
    {
        var verbs = verb == DashboardVerb.View ? [name is null ? "list" : "get"] : new[] { "patch", "update" };
        string? reason = null;
        foreach (var v in verbs)
        {
            var (allowed, why) = await ReviewAsync(user, v, ns, name, cancellationToken);
            if (allowed) return AccessDecision.Allow;
            reason ??= why;
        }
        var what = name is null ? $"{Resource}.{Group}" : $"{Resource}.{Group} {name}";
        var where = string.IsNullOrEmpty(ns) ? "at the cluster scope" : $"in namespace {ns}";
        return AccessDecision.Deny($"{user.Name} may not {string.Join(" or ", verbs)} {what} {where}{(string.IsNullOrEmpty(reason) ? "" : $": {reason}")}");
    }

    private async Task<(bool Allowed, string? Reason)> ReviewAsync(DashboardUser user, string verb, string? ns, string? name, CancellationToken cancellationToken)
    {
        var spec = new JsonObject
        {
            ["user"] = user.Name,
            ["groups"] = new JsonArray(user.Groups.Select(g => (JsonNode?)JsonValue.Create(g)).ToArray()),
            ["resourceAttributes"] = new JsonObject
            {
                ["namespace"] = ns ?? "",
                ["verb"] = verb,
                ["group"] = Group,
                ["resource"] = Resource,
                ["name"] = name ?? "",
            },
        };
        if (user.Uid is { } uid) spec["uid"] = uid;
        if (user.Extra is { Count: > 0 } extra)
            spec["extra"] = new JsonObject(extra.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)new JsonArray(e.Value.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()))));
        var review = await client.SendAsync(HttpMethod.Post, "/apis/authorization.k8s.io/v1/subjectaccessreviews", new JsonObject
        {
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["kind"] = "SubjectAccessReview",
            ["spec"] = spec,
        }, cancellationToken);
        if (!review.Succeeded) return (false, $"the API server could not review the request ({review.Error!.Code} {review.Error.Reason})");
        var status = review.Value?["status"];
        return (status?["allowed"]?.GetValue<bool>() == true, status?["reason"]?.GetValue<string>());
    }
}

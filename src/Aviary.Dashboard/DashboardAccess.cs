using System.Security.Cryptography;
using System.Text;

namespace Aviary.Dashboard;

/// <summary>Someone the dashboard recognised from a token.</summary>
public sealed record DashboardUser(string Name, IReadOnlyList<string> Groups, string? Uid = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Extra = null);

/// <summary>What a request wants to do: look at canaries, or change one.</summary>
public enum DashboardVerb
{
    View,
    Act,
}

/// <summary>An authorisation answer, with the reason shown to a refused user.</summary>
public sealed record AccessDecision(bool Allowed, string Reason)
{
    public static AccessDecision Allow { get; } = new(true, "");

    public static AccessDecision Deny(string reason) => new(false, reason);
}

/// <summary>
/// How a runtime recognises and authorises users: the local controller compares the CLI's token; the operator asks
/// the API server (<c>TokenReview</c>, then a <c>SubjectAccessReview</c> per request). Tokens passed here are never
/// logged or stored by the dashboard beyond the user they identify.
/// </summary>
public interface IDashboardAccess
{
    /// <summary>What users are asked for on the login form (e.g. "the token in .aviary/token").</summary>
    string TokenHint { get; }

    /// <summary>The user <paramref name="token"/> belongs to, or null with why not.</summary>
    ValueTask<(DashboardUser? User, string? Error)> AuthenticateAsync(string token, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="user"/> may <paramref name="verb"/> the canary (or, without a name, list a namespace or all).</summary>
    ValueTask<AccessDecision> AuthorizeAsync(DashboardUser user, DashboardVerb verb, string? ns, string? name, CancellationToken cancellationToken);
}

/// <summary>The local controller's access: one shared token (the CLI's); whoever holds it may do everything.</summary>
public sealed class SharedTokenAccess(string token, string hint) : IDashboardAccess
{
    private static readonly DashboardUser Holder = new("the token holder", []);

    public string TokenHint => hint;

    public ValueTask<(DashboardUser? User, string? Error)> AuthenticateAsync(string presented, CancellationToken cancellationToken)
    {
        var a = Encoding.UTF8.GetBytes(presented.Trim());
        var b = Encoding.UTF8.GetBytes(token);
        return ValueTask.FromResult(CryptographicOperations.FixedTimeEquals(a, b)
            ? ((DashboardUser?)Holder, (string?)null)
            : (null, "wrong token"));
    }

    public ValueTask<AccessDecision> AuthorizeAsync(DashboardUser user, DashboardVerb verb, string? ns, string? name, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AccessDecision.Allow);
}

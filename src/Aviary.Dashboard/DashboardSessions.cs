using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Aviary.Dashboard;

/// <summary>A logged-in browser: who it is, and the CSRF token its state-changing calls must carry.</summary>
internal sealed record DashboardSession(string Id, DashboardUser User, string Csrf)
{
    public DateTimeOffset LastUsed { get; set; }
}

/// <summary>
/// Sessions live in memory only (a restarted server asks for the token again). The cookie carries a random id, never
/// the token; sessions end after <see cref="DashboardOptions.SessionIdleTimeout"/> unused.
/// </summary>
internal sealed class DashboardSessions(TimeProvider time, TimeSpan idleTimeout)
{
    public const string Cookie = "aviary-session";
    private const int MaxSessions = 10_000;
    private readonly ConcurrentDictionary<string, DashboardSession> _sessions = new(StringComparer.Ordinal);

    public DashboardSession Create(DashboardUser user)
    {
        Expire();
        var session = new DashboardSession(NewSecret(), user, NewSecret()) { LastUsed = time.GetUtcNow() };
        _sessions[session.Id] = session;
        return session;
    }

    public DashboardSession? Find(string? id)
    {
        if (string.IsNullOrEmpty(id) || !_sessions.TryGetValue(id, out var session)) return null;
        var now = time.GetUtcNow();
        if (now - session.LastUsed > idleTimeout)
        {
            _sessions.TryRemove(id, out _);
            return null;
        }
        session.LastUsed = now;
        return session;
    }

    public void Remove(string? id)
    {
        if (id is not null) _sessions.TryRemove(id, out _);
    }

    private void Expire()
    {
        var now = time.GetUtcNow();
        foreach (var (id, s) in _sessions)
            if (now - s.LastUsed > idleTimeout) _sessions.TryRemove(id, out _);
        if (_sessions.Count < MaxSessions) return;
        foreach (var s in _sessions.Values.OrderBy(s => s.LastUsed).Take(_sessions.Count - MaxSessions + 1))
            _sessions.TryRemove(s.Id, out _);
    }

    private static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

using System.Text.Json;
using Aviary.Core.Abstractions;
using Aviary.Core.Manifests;
using Aviary.Core.Model;
using Aviary.Core.Scheduling;
using Microsoft.Data.Sqlite;

namespace Aviary.Local.Store;

/// <summary>A canary's row: its key (<c>name.namespace</c>) and last status.</summary>
public sealed record CanaryRecord(string Key, string Namespace, string Name, CanaryStatus Status, DateTimeOffset UpdatedAt);

public sealed record StoredEvent(long Id, string Canary, DateTimeOffset Time, EventType Type, string Reason, string Message);

public sealed record StoredCheck(long Id, string Canary, DateTimeOffset Time, string Kind, string Name, double? Value, double? Min, double? Max, CheckResult Result, string? Message)
{
    /// <summary>The numbers behind the check (the judge's estimates, bounds and evidence), if any.</summary>
    public IReadOnlyDictionary<string, double>? Details { get; init; }
}

/// <summary>An instance Aviary started: enough to find it again after a crash (pid plus its kernel start time).</summary>
public sealed record InstanceRecord(string Id, string Canary, string Role, string Revision, int Pid, long StartTicks, int Port, string LogPath);

/// <summary>What the primary of a canary runs: the promoted template and its revision.</summary>
public sealed record PrimaryRecord(string Canary, string TemplateJson, string Revision, bool CanaryUp);

/// <summary>
/// Aviary's local state in one SQLite file (<c>.aviary/state.db</c>): canary status, events, the analysis
/// history, router weights, what the primary runs and the instances started. WAL mode, one transaction per
/// tick, so a controller killed at any moment resumes from the last complete tick.
/// </summary>
public sealed class StateStore
{
    private readonly string _connectionString;

    private StateStore(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    /// <summary>Opens (creating when needed) the store at <paramref name="path"/>.</summary>
    public static StateStore Open(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var store = new StateStore(path);
        using var c = store.Connect();
        Exec(c, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS canaries (
              key TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, updated INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS events (
              id INTEGER PRIMARY KEY AUTOINCREMENT, canary TEXT NOT NULL, time INTEGER NOT NULL, type TEXT NOT NULL,
              reason TEXT NOT NULL, message TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS events_canary ON events(canary, id);
            CREATE TABLE IF NOT EXISTS checks (
              id INTEGER PRIMARY KEY AUTOINCREMENT, canary TEXT NOT NULL, time INTEGER NOT NULL, kind TEXT NOT NULL,
              name TEXT NOT NULL, value REAL, min REAL, max REAL, result TEXT NOT NULL, message TEXT);
            CREATE INDEX IF NOT EXISTS checks_canary ON checks(canary, id);
            CREATE TABLE IF NOT EXISTS routes (
              canary TEXT PRIMARY KEY, primary_weight INTEGER NOT NULL, canary_weight INTEGER NOT NULL, mirrored INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS primaries (
              canary TEXT PRIMARY KEY, template TEXT NOT NULL, revision TEXT NOT NULL, canary_up INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS actions (
              canary TEXT PRIMARY KEY, kind TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS controls (
              canary TEXT PRIMARY KEY, paused INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS instances (
              id TEXT PRIMARY KEY, canary TEXT NOT NULL, role TEXT NOT NULL, revision TEXT NOT NULL, pid INTEGER NOT NULL,
              start_ticks INTEGER NOT NULL, port INTEGER NOT NULL, log TEXT NOT NULL);
            """);
        // Columns added after the first release of the schema.
        if (Scalar(c, "SELECT COUNT(*) FROM pragma_table_info('checks') WHERE name='details'") is 0L)
            Exec(c, "ALTER TABLE checks ADD COLUMN details TEXT");
        return store;
    }

    private SqliteConnection Connect()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        Exec(c, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        return c;
    }

    /// <summary>Closes pooled connections (before the files of a store are deleted or replaced).</summary>
    public static void CloseAll() => SqliteConnection.ClearAllPools();

    // ---- canaries, events, checks ----

    public CanaryStatus? LoadStatus(string key)
    {
        using var c = Connect();
        var json = Scalar(c, "SELECT status FROM canaries WHERE key=$k", ("$k", key)) as string;
        return json is null ? null : JsonSerializer.Deserialize<CanaryStatus>(json, ModelJson.Options);
    }

    /// <summary>Persists one tick: status, events and checks in one transaction.</summary>
    public void SaveTick(string key, string ns, string name, TickOutcome outcome, DateTimeOffset now)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        Exec(c, tx, """
            INSERT INTO canaries(key, namespace, name, status, updated) VALUES($k, $ns, $n, $s, $u)
            ON CONFLICT(key) DO UPDATE SET status=excluded.status, updated=excluded.updated, namespace=excluded.namespace, name=excluded.name
            """, ("$k", key), ("$ns", ns), ("$n", name), ("$s", JsonSerializer.Serialize(outcome.Status, ModelJson.Options)), ("$u", now.ToUnixTimeMilliseconds()));
        foreach (var e in outcome.Events) InsertEvent(c, tx, key, e.Time, e.Type, e.Message);
        // A decided action leaves the queue with the tick that decided it, so a crash can neither lose nor repeat it.
        if (outcome.Action is { } decided)
            Exec(c, tx, "DELETE FROM actions WHERE canary=$c AND requested_at=$t", ("$c", key), ("$t", decided.Action.RequestedAt.ToUnixTimeMilliseconds()));
        foreach (var check in outcome.Checks)
        {
            Exec(c, tx, "INSERT INTO checks(canary, time, kind, name, value, min, max, result, message, details) VALUES($c,$t,$k,$n,$v,$lo,$hi,$r,$m,$d)",
                ("$c", key), ("$t", check.Time.ToUnixTimeMilliseconds()), ("$k", check.Kind), ("$n", check.Name),
                ("$v", Finite(check.Value)), ("$lo", check.Min), ("$hi", check.Max), ("$r", check.Result.ToString()), ("$m", check.Message),
                ("$d", check.Details is null ? null : JsonSerializer.Serialize(check.Details.Where(kv => double.IsFinite(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value))));
        }
        tx.Commit();
    }

    /// <summary>Records an event that did not come from a tick (an action, a controller message).</summary>
    public void AddEvent(string key, DateTimeOffset time, EventType type, string message)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        InsertEvent(c, tx, key, time, type, message);
        tx.Commit();
    }

    private static void InsertEvent(SqliteConnection c, SqliteTransaction tx, string key, DateTimeOffset time, EventType type, string message) =>
        Exec(c, tx, "INSERT INTO events(canary, time, type, reason, message) VALUES($c,$t,$ty,$r,$m)",
            ("$c", key), ("$t", time.ToUnixTimeMilliseconds()), ("$ty", type.ToString()), ("$r", CanaryEvent.Reason), ("$m", message));

    public IReadOnlyList<CanaryRecord> ListCanaries()
    {
        using var c = Connect();
        using var cmd = Command(c, null, "SELECT key, namespace, name, status, updated FROM canaries ORDER BY namespace, name");
        using var r = cmd.ExecuteReader();
        var list = new List<CanaryRecord>();
        while (r.Read())
        {
            list.Add(new CanaryRecord(r.GetString(0), r.GetString(1), r.GetString(2),
                JsonSerializer.Deserialize<CanaryStatus>(r.GetString(3), ModelJson.Options) ?? CanaryStatus.Empty,
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))));
        }
        return list;
    }

    /// <summary>Events after <paramref name="afterId"/>, oldest first; of one canary or of all.</summary>
    public IReadOnlyList<StoredEvent> Events(string? canary = null, long afterId = 0, int limit = 1000)
    {
        using var c = Connect();
        using var cmd = Command(c, null,
            "SELECT id, canary, time, type, reason, message FROM events WHERE id > $a AND ($c IS NULL OR canary = $c) ORDER BY id LIMIT $l",
            ("$a", afterId), ("$c", canary), ("$l", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<StoredEvent>();
        while (r.Read())
        {
            list.Add(new StoredEvent(r.GetInt64(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                Enum.Parse<EventType>(r.GetString(3)), r.GetString(4), r.GetString(5)));
        }
        return list;
    }

    /// <summary>The latest <paramref name="limit"/> events of one canary, oldest first.</summary>
    public IReadOnlyList<StoredEvent> RecentEvents(string canary, int limit)
    {
        using var c = Connect();
        using var cmd = Command(c, null,
            "SELECT id, canary, time, type, reason, message FROM events WHERE canary = $c ORDER BY id DESC LIMIT $l", ("$c", canary), ("$l", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<StoredEvent>();
        while (r.Read())
        {
            list.Add(new StoredEvent(r.GetInt64(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                Enum.Parse<EventType>(r.GetString(3)), r.GetString(4), r.GetString(5)));
        }
        list.Reverse();
        return list;
    }

    /// <summary>When the last event of a canary starting with <paramref name="prefix"/> was recorded, if any.</summary>
    public DateTimeOffset? LastEventTime(string canary, string prefix)
    {
        using var c = Connect();
        var ms = Scalar(c, "SELECT time FROM events WHERE canary=$c AND substr(message, 1, length($p)) = $p ORDER BY id DESC LIMIT 1",
            ("$c", canary), ("$p", prefix));
        return ms is long t ? DateTimeOffset.FromUnixTimeMilliseconds(t) : null;
    }

    /// <summary>The last <paramref name="limit"/> checks of a canary, oldest first.</summary>
    public IReadOnlyList<StoredCheck> Checks(string canary, int limit = 100)
    {
        using var c = Connect();
        using var cmd = Command(c, null,
            "SELECT id, canary, time, kind, name, value, min, max, result, message, details FROM checks WHERE canary=$c ORDER BY id DESC LIMIT $l",
            ("$c", canary), ("$l", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<StoredCheck>();
        while (r.Read())
        {
            list.Add(new StoredCheck(r.GetInt64(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetString(3),
                r.GetString(4), r.IsDBNull(5) ? null : r.GetDouble(5), r.IsDBNull(6) ? null : r.GetDouble(6), r.IsDBNull(7) ? null : r.GetDouble(7),
                Enum.Parse<CheckResult>(r.GetString(8)), r.IsDBNull(9) ? null : r.GetString(9))
            {
                Details = r.IsDBNull(10) ? null : JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(10)),
            });
        }
        list.Reverse();
        return list;
    }

    public void DeleteCanary(string key)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        foreach (var table in new[] { "canaries WHERE key", "routes WHERE canary", "primaries WHERE canary", "actions WHERE canary", "controls WHERE canary" })
            Exec(c, tx, $"DELETE FROM {table}=$k", ("$k", key));
        tx.Commit();
    }

    // ---- manual actions ----

    /// <summary>Queues an action for a canary's next tick, replacing one not yet taken, and records who asked.</summary>
    public void QueueAction(string canary, ManualAction action)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        Exec(c, tx, """
            INSERT INTO actions(canary, kind, requested_by, requested_at) VALUES($c,$k,$b,$t)
            ON CONFLICT(canary) DO UPDATE SET kind=excluded.kind, requested_by=excluded.requested_by, requested_at=excluded.requested_at
            """, ("$c", canary), ("$k", action.Verb), ("$b", action.RequestedBy), ("$t", action.RequestedAt.ToUnixTimeMilliseconds()));
        InsertEvent(c, tx, canary, action.RequestedAt, EventType.Normal, $"{char.ToUpperInvariant(action.Verb[0])}{action.Verb[1..]} requested by {action.RequestedBy}");
        tx.Commit();
    }

    public ManualAction? PendingAction(string canary)
    {
        using var c = Connect();
        using var cmd = Command(c, null, "SELECT kind, requested_by, requested_at FROM actions WHERE canary=$c", ("$c", canary));
        using var r = cmd.ExecuteReader();
        if (!r.Read() || !ManualAction.TryParse(r.GetString(0), out var kind)) return null;
        return new ManualAction(kind, r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)));
    }

    /// <summary>Takes a pause or resume: sets the flag, records the event and removes the action, together.</summary>
    public void ApplyPause(string canary, ManualAction action, DateTimeOffset now)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        var paused = action.Kind == ManualActionKind.Pause;
        Exec(c, tx, "INSERT INTO controls(canary, paused) VALUES($c,$p) ON CONFLICT(canary) DO UPDATE SET paused=excluded.paused",
            ("$c", canary), ("$p", paused ? 1 : 0));
        Exec(c, tx, "DELETE FROM actions WHERE canary=$c AND requested_at=$t", ("$c", canary), ("$t", action.RequestedAt.ToUnixTimeMilliseconds()));
        InsertEvent(c, tx, canary, now, EventType.Normal, paused
            ? $"Canary {canary} paused by {action.RequestedBy}: no analysis until it is resumed"
            : $"Canary {canary} resumed by {action.RequestedBy}");
        tx.Commit();
    }

    public bool IsPaused(string canary)
    {
        using var c = Connect();
        return Scalar(c, "SELECT paused FROM controls WHERE canary=$c", ("$c", canary)) is long p && p != 0;
    }

    // ---- routes ----

    public RouteWeights? LoadRoutes(string canary)
    {
        using var c = Connect();
        using var cmd = Command(c, null, "SELECT primary_weight, canary_weight, mirrored FROM routes WHERE canary=$c", ("$c", canary));
        using var r = cmd.ExecuteReader();
        return r.Read() ? new RouteWeights(r.GetInt32(0), r.GetInt32(1), r.GetInt64(2) != 0) : null;
    }

    public void SaveRoutes(string canary, RouteWeights weights)
    {
        using var c = Connect();
        Exec(c, """
            INSERT INTO routes(canary, primary_weight, canary_weight, mirrored) VALUES($c,$p,$w,$m)
            ON CONFLICT(canary) DO UPDATE SET primary_weight=excluded.primary_weight, canary_weight=excluded.canary_weight, mirrored=excluded.mirrored
            """, ("$c", canary), ("$p", weights.Primary), ("$w", weights.Canary), ("$m", weights.Mirrored ? 1 : 0));
    }

    // ---- workloads ----

    public PrimaryRecord? LoadPrimary(string canary)
    {
        using var c = Connect();
        using var cmd = Command(c, null, "SELECT template, revision, canary_up FROM primaries WHERE canary=$c", ("$c", canary));
        using var r = cmd.ExecuteReader();
        return r.Read() ? new PrimaryRecord(canary, r.GetString(0), r.GetString(1), r.GetInt64(2) != 0) : null;
    }

    public void SavePrimary(PrimaryRecord record)
    {
        using var c = Connect();
        Exec(c, """
            INSERT INTO primaries(canary, template, revision, canary_up) VALUES($c,$t,$r,$u)
            ON CONFLICT(canary) DO UPDATE SET template=excluded.template, revision=excluded.revision, canary_up=excluded.canary_up
            """, ("$c", record.Canary), ("$t", record.TemplateJson), ("$r", record.Revision), ("$u", record.CanaryUp ? 1 : 0));
    }

    public IReadOnlyList<InstanceRecord> Instances(string? canary = null)
    {
        using var c = Connect();
        using var cmd = Command(c, null,
            "SELECT id, canary, role, revision, pid, start_ticks, port, log FROM instances WHERE $c IS NULL OR canary=$c ORDER BY id", ("$c", canary));
        using var r = cmd.ExecuteReader();
        var list = new List<InstanceRecord>();
        while (r.Read())
            list.Add(new InstanceRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), r.GetInt64(5), r.GetInt32(6), r.GetString(7)));
        return list;
    }

    public void SaveInstance(InstanceRecord i)
    {
        using var c = Connect();
        Exec(c, """
            INSERT INTO instances(id, canary, role, revision, pid, start_ticks, port, log) VALUES($i,$c,$r,$v,$p,$s,$o,$l)
            ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, start_ticks=excluded.start_ticks, port=excluded.port, revision=excluded.revision
            """, ("$i", i.Id), ("$c", i.Canary), ("$r", i.Role), ("$v", i.Revision), ("$p", i.Pid), ("$s", i.StartTicks), ("$o", i.Port), ("$l", i.LogPath));
    }

    public void DeleteInstance(string id)
    {
        using var c = Connect();
        Exec(c, "DELETE FROM instances WHERE id=$i", ("$i", id));
    }

    // ---- helpers ----

    private static double? Finite(double? d) => d is { } v && double.IsFinite(v) ? v : null;

    private static void Exec(SqliteConnection c, string sql, params (string, object?)[] args) => Exec(c, null, sql, args);

    private static void Exec(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection c, string sql, params (string, object?)[] args)
    {
        using var cmd = Command(c, null, sql, args);
        return cmd.ExecuteScalar();
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }
}

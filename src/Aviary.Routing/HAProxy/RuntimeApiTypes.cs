namespace Aviary.Routing.HAProxy;

/// <summary>The administrative state a server can be forced into with <c>set server &lt;backend&gt;/&lt;server&gt; state</c>.</summary>
public enum ServerAdminState
{
    /// <summary>Normal operation: the server takes load-balanced traffic (by its weight).</summary>
    Ready,

    /// <summary>No new load-balanced traffic; requests in flight finish (persistent connections are still accepted).</summary>
    Drain,

    /// <summary>Maintenance: no traffic at all, no health checks.</summary>
    Maint,
}

/// <summary>A server's state as <c>show stat</c> reports it in its <c>status</c> column.</summary>
public enum ServerStatus
{
    /// <summary>A status this client does not know; see <see cref="StatRow.StatusText"/>.</summary>
    Unknown,

    /// <summary><c>UP</c> (possibly <c>UP 1/3</c> while a check goes down) or <c>no check</c>: takes traffic.</summary>
    Up,

    /// <summary><c>DOWN</c>: health checks fail.</summary>
    Down,

    /// <summary><c>NOLB</c>: up but soft-stopping (for example a health check answered 404).</summary>
    NoLoadBalancing,

    /// <summary><c>DRAIN</c>: forced out of load balancing.</summary>
    Drain,

    /// <summary><c>MAINT</c>, <c>MAINT (via …)</c> or <c>MAINT (resolution)</c>.</summary>
    Maint,
}

/// <summary>The kind of object of a <c>show stat</c> line (its <c>type</c> column).</summary>
public enum StatType
{
    Frontend = 0,
    Backend = 1,
    Server = 2,
    Listener = 3,
}

/// <summary>
/// One line of <c>show stat</c> (HAProxy's CSV statistics). The commonly used columns are typed; every column, by its
/// header name (<c>pxname</c>, <c>svname</c>, <c>scur</c>, …), is in <see cref="Fields"/>.
/// </summary>
/// <param name="Proxy">The frontend or backend name (<c>pxname</c>).</param>
/// <param name="Name">The server name, or <c>FRONTEND</c>/<c>BACKEND</c> (<c>svname</c>).</param>
/// <param name="CurrentSessions">Sessions in progress (<c>scur</c>); for a server, the requests it is serving now.</param>
/// <param name="CurrentQueue">Requests waiting for a free connection slot (<c>qcur</c>); 0 when empty.</param>
/// <param name="TotalSessions">Sessions since start (<c>stot</c>).</param>
/// <param name="StatusText">The <c>status</c> column as written.</param>
/// <param name="Weight">Effective weight (<c>weight</c>); for a backend, the sum of its servers'.</param>
/// <param name="UserWeight">The weight set by configuration or the runtime API, 0..256 (<c>uweight</c>, servers only).</param>
/// <param name="Address">A server's <c>ip:port</c> (<c>addr</c>); null when not reported.</param>
public sealed record StatRow(
    string Proxy,
    string Name,
    StatType Type,
    long CurrentSessions,
    long CurrentQueue,
    long TotalSessions,
    ServerStatus Status,
    string StatusText,
    int? Weight,
    int? UserWeight,
    string? Address,
    IReadOnlyDictionary<string, string> Fields);

/// <summary>Bits of <c>srv_admin_state</c> in <c>show servers state</c> (HAProxy's <c>SRV_ADMF_*</c>).</summary>
[Flags]
public enum ServerAdminFlags
{
    None = 0,

    /// <summary>Forced into maintenance (<c>set server … state maint</c>).</summary>
    ForcedMaintenance = 0x01,

    /// <summary>Maintenance inherited from a tracked server.</summary>
    InheritedMaintenance = 0x02,

    /// <summary>Declared <c>disabled</c> in the configuration. HAProxy 2.6 keeps this bit after <c>state ready</c>,
    /// while the server takes traffic, so it alone does not mean maintenance.</summary>
    ConfigurationMaintenance = 0x04,

    /// <summary>Forced into drain (<c>set server … state drain</c>).</summary>
    ForcedDrain = 0x08,

    /// <summary>Drain inherited from a tracked server.</summary>
    InheritedDrain = 0x10,

    /// <summary>No address could be resolved.</summary>
    ResolutionMaintenance = 0x20,

    /// <summary>The FQDN was set through the runtime API.</summary>
    HostnameFromCli = 0x40,
}

/// <summary>A server's operational state in <c>show servers state</c> (<c>srv_op_state</c>).</summary>
public enum ServerOperationalState
{
    Stopped = 0,
    Starting = 1,
    Running = 2,
    Stopping = 3,
}

/// <summary>One server of <c>show servers state</c> (format version 1).</summary>
/// <param name="Address">The server's IP address, or <c>-</c> when it has none.</param>
/// <param name="UserWeight">The weight set by configuration or the runtime API, 0..256.</param>
/// <param name="InitialWeight">The weight of the configuration.</param>
/// <param name="Port">The server's port (0 when it has none).</param>
public sealed record ServerStateRow(
    int BackendId,
    string Backend,
    int ServerId,
    string Server,
    string Address,
    ServerOperationalState OperationalState,
    ServerAdminFlags AdminFlags,
    int UserWeight,
    int InitialWeight,
    int Port)
{
    /// <summary>Whether the server is held out of all traffic (forced, inherited or resolution maintenance).</summary>
    public bool InMaintenance =>
        (AdminFlags & (ServerAdminFlags.ForcedMaintenance | ServerAdminFlags.InheritedMaintenance | ServerAdminFlags.ResolutionMaintenance)) != 0;

    /// <summary>Whether the server is draining (forced or inherited).</summary>
    public bool Draining => (AdminFlags & (ServerAdminFlags.ForcedDrain | ServerAdminFlags.InheritedDrain)) != 0;
}

/// <summary>One process of the master CLI's <c>show proc</c>.</summary>
/// <param name="Type"><c>master</c>, <c>worker</c>, or a program's name.</param>
/// <param name="Reloads">Reloads the process has seen.</param>
/// <param name="FailedReloads">For the master: reloads that failed (the previous workers kept running).</param>
/// <param name="Old">Whether it is an old worker (still finishing its connections after a reload).</param>
public sealed record ProcessRow(int Pid, string Type, int Reloads, int FailedReloads, bool Old);

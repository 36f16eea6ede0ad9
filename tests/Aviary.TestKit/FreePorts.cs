using Aviary.Local.Workloads;

namespace Aviary.TestKit;

/// <summary>
/// Ports for the servers tests start: the local runtime's own choice (<see cref="Processes.FreePort"/>), from below
/// the ephemeral range, so that no client socket or bind to port 0 of any test process takes it before the server binds.
/// </summary>
public static class FreePorts
{
    /// <summary>A loopback TCP port outside the ephemeral range that was free a moment ago.</summary>
    public static int Next() => Processes.FreePort();
}

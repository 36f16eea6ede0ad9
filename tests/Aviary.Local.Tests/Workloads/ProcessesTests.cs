using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Aviary.Local.Workloads;

namespace Aviary.Local.Tests.Workloads;

public sealed class ProcessesTests
{
    /// <summary>
    /// An instance's port never comes from the ephemeral range: a bind to port 0 anywhere on the machine (another
    /// server, another test process) could otherwise take it before the instance binds, and the instance's readiness
    /// probes would reach that server (seen as a stray request counted by another test's backend in a CI run).
    /// </summary>
    [Fact]
    public void FreePort_BelowTheEphemeralRange_AndBindable()
    {
        var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 200).Select(_ => Processes.FreePort()).ToList();

        Assert.All(ports, p => Assert.InRange(p, 10_000, ephemeralLow - 1));
        Assert.True(ports.Distinct().Count() > 150, "the ports should be spread at random: " + string.Join(",", ports.Take(20)));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, ports[^1]));
        socket.Listen();
    }
}

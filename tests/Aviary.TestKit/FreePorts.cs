using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Aviary.TestKit;

/// <summary>
/// Ports for the servers tests start. A port the kernel hands out for a bind to port 0 comes from the ephemeral range,
/// which every outgoing connection of every test process also draws from: under load, a client socket could take it
/// between the check and the server's own bind ("address already in use"). So ports come from below the ephemeral
/// range (<c>/proc/sys/net/ipv4/ip_local_port_range</c>), which the kernel never hands out by itself, picked at random
/// and checked free by binding.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10_000;

    private static readonly int Below = EphemeralLow();

    /// <summary>A loopback TCP port outside the ephemeral range that was free a moment ago.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, Below);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                // Taken: try another.
            }
        }
        throw new InvalidOperationException($"no free port between {Lowest} and {Below} after 1000 tries");
    }

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (int.TryParse(range[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var low) && low > Lowest + 1000) return low;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
        }
        return 32_768;
    }
}

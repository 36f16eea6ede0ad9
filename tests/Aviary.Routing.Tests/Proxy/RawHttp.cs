using System.Net.Sockets;
using System.Text;

namespace Aviary.Routing.Tests.Proxy;

/// <summary>Writes HTTP/1.1 requests byte for byte and reads the answers until the server closes the connection
/// (so the last request should say <c>Connection: close</c>).</summary>
public static class RawHttp
{
    public static async Task<string> SendAsync(Uri address, string requests)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requests));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }
}

using System.Text.Json.Serialization;

namespace Aviary.Demo;

/// <summary>The answer of <c>GET /</c>, with podinfo's field names.</summary>
internal sealed record InfoResponse(
    string Hostname, string Version, string Revision, string Color, string Message, string Runtime, int NumCpu, int Pid);

internal sealed record VersionResponse(string Version, string Revision);

internal sealed record StatusResponse(int Status);

internal sealed record DelayResponse(double Delay);

internal sealed record HealthResponse(string Status);

internal sealed record ErrorResponse(int Code, string Message);

/// <summary>Source-generated serialization: no reflection at startup.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(DelayResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;

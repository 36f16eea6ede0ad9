namespace Aviary.Local.Controller;

/// <summary>Where a running controller can be reached, written to <c>STATE/controller.json</c>.</summary>
public sealed record ControllerInfo(int Pid, string Api);

namespace Aviary.Local.Controller;

/// <summary>A controller failure the user must act on (e.g. a second controller on the same state).</summary>
public sealed class ControllerException(string message) : Exception(message);

namespace Aviary.Demo;

/// <summary>Readiness: false until the server has started and <see cref="DemoOptions.ReadyDelay"/> has passed; always false with <see cref="DemoOptions.NeverReady"/>.</summary>
internal sealed class ReadinessGate(DemoOptions options, TimeProvider time)
{
    private long _startedAt = -1;

    /// <summary>Called once the server listens: the ready delay counts from here.</summary>
    public void MarkStarted() => Interlocked.CompareExchange(ref _startedAt, time.GetTimestamp(), -1);

    public bool IsReady
    {
        get
        {
            if (options.NeverReady) return false;
            var started = Interlocked.Read(ref _startedAt);
            return started >= 0 && time.GetElapsedTime(started) >= options.ReadyDelay;
        }
    }
}

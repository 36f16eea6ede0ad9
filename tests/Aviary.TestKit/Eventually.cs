using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Aviary.TestKit;

/// <summary>
/// The one way a test waits for something real to happen: observe, and again, until the observation satisfies the
/// condition. Giving up fails with what was waited for (the condition's source text unless named) and the last
/// observation (or the error observing it), never a bare timeout. The patience is a guard against a hung test, not a
/// performance assertion: keep it generous, and prove "nothing happens" with "N more ticks, unchanged" instead of waiting.
/// </summary>
public static class Eventually
{
    /// <summary>The patience when a test names none.</summary>
    public static TimeSpan DefaultPatience { get; } = TimeSpan.FromMinutes(2);

    /// <summary>The pause between observations when a test names none.</summary>
    public static TimeSpan DefaultPoll { get; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Observes with <paramref name="observe"/> until <paramref name="done"/> holds for the observation, and returns it.
    /// An observation that throws counts as not done (a server still starting), and the error is reported if it is the last;
    /// a failed assertion in it fails at once.
    /// </summary>
    /// <param name="describe">The failure's account of the last observation (its <c>ToString()</c> when null).</param>
    /// <param name="what">What is waited for, as the failure names it; the source text of <paramref name="done"/> by default.</param>
    public static async Task<T> Until<T>(Func<Task<T>> observe, Func<T, bool> done, TimeSpan? patience = null,
        Func<T, Task<string>>? describe = null, TimeSpan? poll = null, [CallerArgumentExpression(nameof(done))] string what = "")
    {
        ArgumentNullException.ThrowIfNull(observe);
        ArgumentNullException.ThrowIfNull(done);
        var limit = patience ?? DefaultPatience;
        var clock = Stopwatch.StartNew();
        var observations = 0;
        while (true)
        {
            T last = default!;
            Exception? error = null;
            try
            {
                last = await observe();
                observations++;
                if (done(last)) return last;
            }
            catch (Exception e) when (e is not OutOfMemoryException and not Xunit.Sdk.XunitException)
            {
                // An assertion in the observation is final (fail at once); anything else may pass on another look.
                error = e;
            }
            if (clock.Elapsed > limit)
            {
                var account = error is not null ? $"observing failed: {error.GetType().Name}: {error.Message}"
                    : describe is not null ? await describe(last) : last?.ToString() ?? "null";
                throw new TimeoutException($"gave up waiting for {what} after {limit.TotalSeconds:0}s ({observations} observations); last observed: {account}");
            }
            await Task.Delay(poll ?? DefaultPoll);
        }
    }

    /// <inheritdoc cref="Until{T}(Func{Task{T}}, Func{T, bool}, TimeSpan?, Func{T, Task{string}}?, TimeSpan?, string)"/>
    public static Task<T> Until<T>(Func<T> observe, Func<T, bool> done, TimeSpan? patience = null, Func<T, string>? describe = null,
        TimeSpan? poll = null, [CallerArgumentExpression(nameof(done))] string what = "") =>
        Until(() => Task.FromResult(observe()), done, patience, describe is null ? null : last => Task.FromResult(describe(last)), poll, what);

    /// <summary>Waits until <paramref name="condition"/> holds; <paramref name="describe"/> gives the failure's account of the state.</summary>
    public static Task True(Func<Task<bool>> condition, TimeSpan? patience = null, Func<Task<string>>? describe = null, TimeSpan? poll = null,
        [CallerArgumentExpression(nameof(condition))] string what = "") =>
        Until(condition, held => held, patience, describe is null ? null : _ => describe(), poll, what);

    /// <inheritdoc cref="True(Func{Task{bool}}, TimeSpan?, Func{Task{string}}?, TimeSpan?, string)"/>
    public static Task True(Func<bool> condition, TimeSpan? patience = null, Func<string>? describe = null, TimeSpan? poll = null,
        [CallerArgumentExpression(nameof(condition))] string what = "") =>
        Until(condition, held => held, patience, describe is null ? null : _ => describe(), poll, what);
}

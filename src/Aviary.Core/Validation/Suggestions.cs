namespace Aviary.Core.Validation;

/// <summary>"Did you mean" suggestions by edit distance.</summary>
public static class Suggestions
{
    /// <summary>The candidate closest to <paramref name="input"/>, when it is close enough to be a likely typo.</summary>
    public static string? Closest(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            // The distance is at least the difference in length: skip what cannot beat the best so far.
            if (candidate.Length == 0 || Math.Abs(candidate.Length - input.Length) >= bestDistance) continue;
            var distance = string.Equals(candidate, input, StringComparison.OrdinalIgnoreCase)
                ? 0
                : Distance(input.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = candidate;
            }
        }
        var allowed = Math.Max(2, Math.Min(input.Length, best?.Length ?? 0) / 3);
        return best is not null && bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with transpositions); <see cref="int.MaxValue"/> beyond 256 characters.</summary>
    public static int Distance(string a, string b)
    {
        if (a.Length > 256 || b.Length > 256) return int.MaxValue;
        // Three rolling rows (the one before last is for transpositions) instead of a full matrix: unknown keys can be
        // long, and this runs once per candidate.
        var before = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    current[j] = Math.Min(current[j], before[j - 2] + 1);
            }
            (before, previous, current) = (previous, current, before);
        }
        return previous[b.Length];
    }
}

using System.Reflection;
using Aviary.Core.Observability;
using Microsoft.Extensions.Logging;

namespace Aviary.Cli.Tests;

/// <summary>Every log event id is in its assembly's range (<see cref="LogEvents.Ranges"/>) and names one event.</summary>
public sealed class LogEventsTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    [Fact]
    public void EventIds_AreInTheirAssemblysRange_AndUnique()
    {
        var seen = new Dictionary<int, string>();
        var problems = new List<string>();
        foreach (var (assemblyName, (first, last)) in LogEvents.Ranges)
        {
            var assembly = Assembly.Load(assemblyName);
            foreach (var method in assembly.GetTypes().SelectMany(t => t.GetMethods(All)))
            {
                if (method.GetCustomAttribute<LoggerMessageAttribute>() is not { } message) continue;
                var name = $"{method.DeclaringType!.FullName}.{method.Name}";
                if (message.EventId < first || message.EventId > last)
                    problems.Add($"{name}: event {message.EventId} is outside {assemblyName}'s range {first}–{last}");
                if (!seen.TryAdd(message.EventId, name))
                    problems.Add($"{name}: event {message.EventId} is also {seen[message.EventId]}");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(seen.Count > 90, $"only {seen.Count} log events found: is reflection reading the right assemblies?");
    }
}

using Aviary.Core.Model;

namespace Aviary.Core.Validation;

public static class WorkloadValidator
{
    public static Workload? Validate(Workload workload, DiagnosticBag bag)
    {
        var errors = bag.Items.Count(d => d.IsError);
        Metadata.Validate(workload.Metadata, bag);
        var template = workload.Spec.Template;
        if (template.Command.Length > 0 && string.IsNullOrWhiteSpace(template.Command))
            bag.Error("spec.template.command", "must not be blank");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var env = template.Env ?? [];
        for (var i = 0; i < env.Count; i++)
        {
            var name = env[i].Name;
            if (name.Length > 0 && (name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal)))
                bag.Error($"spec.template.env[{i}].name", $"must not contain '=' or NUL (got '{name}')");
            else if (name.Length > 0 && !names.Add(name))
                bag.Warning($"spec.template.env[{i}].name", $"'{name}' is set twice; the last value wins");
        }
        if (template.ReadinessProbe?.HttpGet.Path is { } path && !path.StartsWith('/'))
            bag.Error("spec.template.readinessProbe.httpGet.path", $"must start with '/' (got '{path}')");
        if (template.ReadinessProbe is null)
            bag.Warning("spec.template.readinessProbe", "not set: an instance counts as ready as soon as its port accepts connections");
        return bag.Items.Count(d => d.IsError) > errors ? null : workload;
    }
}

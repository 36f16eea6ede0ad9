using Aviary.Core.Model;

namespace Aviary.Core.Validation;

public static class MetricTemplateValidator
{
    public static MetricTemplate? Validate(MetricTemplate template, DiagnosticBag bag)
    {
        var errors = bag.Items.Count(d => d.IsError);
        Metadata.Validate(template.Metadata, bag);
        var provider = template.Spec.Provider;
        if (provider.Address is { Length: > 0 } address &&
            (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            bag.Warning("spec.provider.address", $"is not an absolute http or https URL (got '{address}'); queries will fail until it is");
        if (template.Spec.Query.Length > 0 && string.IsNullOrWhiteSpace(template.Spec.Query))
            bag.Error("spec.query", "must not be blank");
        return bag.Items.Count(d => d.IsError) > errors ? null : template;
    }
}

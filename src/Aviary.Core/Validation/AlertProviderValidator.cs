using Aviary.Core.Model;

namespace Aviary.Core.Validation;

public static class AlertProviderValidator
{
    public static AlertProvider? Validate(AlertProvider provider, DiagnosticBag bag)
    {
        var errors = bag.Items.Count(d => d.IsError);
        Metadata.Validate(provider.Metadata, bag);
        var spec = provider.Spec;
        var hasAddress = !string.IsNullOrEmpty(spec.Address);
        var hasSecret = spec.SecretRef is not null;
        if (hasAddress && hasSecret)
            bag.Error("spec", "set exactly one of address or secretRef (both are set)");
        else if (!hasAddress && !hasSecret)
            bag.Error("spec", "set exactly one of address or secretRef (neither is set)");
        if (hasAddress && (!Uri.TryCreate(spec.Address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            bag.Error("spec.address", $"must be an absolute http or https URL (got '{spec.Address}')");
        if (spec.Proxy is { Length: > 0 } proxy && !Uri.TryCreate(proxy, UriKind.Absolute, out _))
            bag.Error("spec.proxy", $"must be an absolute URL (got '{proxy}')");
        return bag.Items.Count(d => d.IsError) > errors ? null : provider;
    }
}

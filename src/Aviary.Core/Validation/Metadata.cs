using System.Text.RegularExpressions;
using Aviary.Core.Model;

namespace Aviary.Core.Validation;

/// <summary>Kubernetes' rules for object names.</summary>
public static partial class Metadata
{
    public static void Validate(ObjectMeta meta, DiagnosticBag bag)
    {
        if (meta.Name.Length > 0 && !IsDns1123Subdomain(meta.Name))
            bag.Error("metadata.name", $"must be a lowercase RFC 1123 name: a-z, 0-9, '-' and '.', starting and ending with a letter or digit (got '{meta.Name}')");
        if (!string.IsNullOrEmpty(meta.Namespace) && !IsDns1123Label(meta.Namespace))
            bag.Error("metadata.namespace", $"must be a lowercase RFC 1123 label of at most 63 characters (got '{meta.Namespace}')");
    }

    public static bool IsDns1123Subdomain(string name) => name.Length <= 253 && Subdomain().IsMatch(name);

    public static bool IsDns1123Label(string name) => name.Length <= 63 && Label().IsMatch(name);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Subdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Label();
}

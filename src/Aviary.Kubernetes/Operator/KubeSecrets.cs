using System.Text;
using System.Text.Json.Nodes;
using Aviary.Core.Abstractions;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Operator;

/// <summary>Secrets referenced by MetricTemplates and AlertProviders, read from the API server (data is base64).</summary>
public sealed class KubeSecrets(KubeClient client) : ISecretSource
{
    private readonly ResourceClient<JsonObject> _secrets = client.Resource(KubeResources.Secrets);

    public async ValueTask<Outcome<IReadOnlyDictionary<string, string>>> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var result = await _secrets.GetAsync(@namespace, name, cancellationToken);
        if (!result.Succeeded) return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret {@namespace}/{name}: {result.Error!.Reason}");
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (result.Value["data"] is JsonObject encoded)
        {
            foreach (var (key, value) in encoded)
            {
                if (value?.GetValue<string>() is not { } b64) continue;
                try
                {
                    data[key] = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
                }
                catch (FormatException)
                {
                    return Outcome<IReadOnlyDictionary<string, string>>.Fail($"secret {@namespace}/{name}: key {key} is not base64");
                }
            }
        }
        if (result.Value["stringData"] is JsonObject plain)
            foreach (var (key, value) in plain)
                if (value?.GetValue<string>() is { } v) data[key] = v;
        return data;
    }
}

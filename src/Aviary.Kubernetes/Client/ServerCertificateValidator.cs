using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Aviary.Kubernetes.Client;

/// <summary>
/// Verifies the API server's certificate as kubectl does: with configured CAs, the chain must end at one of them
/// (the system's trust store plays no part), and the certificate must name the host (or <c>tls-server-name</c>);
/// without CAs, the platform's validation applies. Revocation is not checked (Kubernetes CAs publish none).
/// </summary>
internal sealed class ServerCertificateValidator(KubeClientConfig config, TimeProvider time)
{
    private readonly X509Certificate2Collection _roots = [.. config.CertificateAuthorities];
    private readonly string _host = HostOf(config);

    /// <summary>The reason the last certificate was refused (for the error message), or null.</summary>
    public string? LastFailure { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (config.InsecureSkipTlsVerify) return true;
        if (certificate is not X509Certificate2 server)
        {
            LastFailure = "the server sent no certificate";
            return false;
        }
        if (_roots.Count == 0)
        {
            if (config.TlsServerName is not null) errors &= ~SslPolicyErrors.RemoteCertificateNameMismatch;
            if (errors != SslPolicyErrors.None)
            {
                LastFailure = $"the server's certificate is not trusted ({errors})";
                return false;
            }
            return NameMatches(server);
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        // Intermediates the server sent may complete the chain; they are not trusted by themselves.
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.Equals(server)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        if (!chain.Build(server))
        {
            var status = string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            LastFailure = $"the server's certificate ({server.Subject}) is not signed by the configured certificate authority: {status}";
            return false;
        }
        return NameMatches(server);
    }

    private bool NameMatches(X509Certificate2 server)
    {
        if (server.MatchesHostname(_host, allowWildcards: true, allowCommonName: false)) return true;
        LastFailure = $"the server's certificate ({server.Subject}) is not valid for {_host}";
        return false;
    }

    private static string HostOf(KubeClientConfig config)
    {
        var host = config.TlsServerName ?? config.Server.Host;
        return host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
    }
}

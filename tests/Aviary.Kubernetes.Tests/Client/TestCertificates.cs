using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>Certificates made in-process for the kubeconfig unit tests (the integration tests use the harness' openssl PKI).</summary>
internal static class TestCertificates
{
    public static string CaPem(string name = "unit-test-ca")
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddDays(-1), TimeProvider.System.GetUtcNow().AddDays(2));
        return ca.ExportCertificatePem();
    }

    /// <summary>A self-signed client certificate and its key in the requested PEM format.</summary>
    public static (string CertificatePem, string KeyPem) Client(string user, string format)
    {
        var now = TimeProvider.System.GetUtcNow();
        if (format.StartsWith("ec", StringComparison.Ordinal))
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=" + user, ec, HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(2));
            return (certificate.ExportCertificatePem(), format == "ec-sec1" ? ec.ExportECPrivateKeyPem() : ec.ExportPkcs8PrivateKeyPem());
        }
        using var rsa = RSA.Create(2048);
        var rsaRequest = new CertificateRequest("CN=" + user, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var rsaCertificate = rsaRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(2));
        return (rsaCertificate.ExportCertificatePem(), format == "rsa-pkcs1" ? rsa.ExportRSAPrivateKeyPem() : rsa.ExportPkcs8PrivateKeyPem());
    }

    public static string Base64(string text) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text));
}

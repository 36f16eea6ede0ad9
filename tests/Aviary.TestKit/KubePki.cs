namespace Aviary.TestKit;

/// <summary>The private key format of a certificate that <see cref="KubePki"/> issues (to test PEM parsing).</summary>
public enum KubeKeyType
{
    /// <summary>RSA 2048, PKCS#1 PEM (<c>BEGIN RSA PRIVATE KEY</c>).</summary>
    Rsa,

    /// <summary>RSA 2048, PKCS#8 PEM (<c>BEGIN PRIVATE KEY</c>).</summary>
    RsaPkcs8,

    /// <summary>EC P-256, SEC1 PEM (<c>BEGIN EC PRIVATE KEY</c>).</summary>
    Ec,

    /// <summary>EC P-256, PKCS#8 PEM (<c>BEGIN PRIVATE KEY</c>).</summary>
    EcPkcs8,
}

/// <summary>A certificate and its key as PEM files.</summary>
public sealed record KubeCertificate(string CertificatePath, string KeyPath)
{
    public string CertificatePem => File.ReadAllText(CertificatePath);

    public string KeyPem => File.ReadAllText(KeyPath);
}

/// <summary>
/// A small PKI made with openssl for the test API server: a CA, serving certificates (with IP and DNS names),
/// client certificates (CN = user, O = groups, which is how the API server reads them) and the service-account key
/// pair. Certificates are valid for 2 days.
/// </summary>
public sealed class KubePki(string openssl, string directory)
{
    /// <summary>The folder the files are written to.</summary>
    public string Directory { get; } = directory;

    /// <summary>Creates a self-signed CA (<c>{name}.crt</c>, <c>{name}.key</c>).</summary>
    public async Task<KubeCertificate> CreateCaAsync(string name, string commonName, CancellationToken cancellationToken = default)
    {
        var ca = Paths(name);
        await RunAsync(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca.KeyPath, "-out", ca.CertificatePath,
            "-days", "2", "-subj", "/CN=" + commonName,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"], cancellationToken);
        return ca;
    }

    /// <summary>Issues a serving certificate for the given DNS names and IP addresses, signed by <paramref name="ca"/>.</summary>
    public async Task<KubeCertificate> IssueServerAsync(KubeCertificate ca, string name, IReadOnlyList<string> dnsNames,
        IReadOnlyList<string> ipAddresses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var san = string.Join(',', dnsNames.Select(d => "DNS:" + d).Concat(ipAddresses.Select(i => "IP:" + i)));
        return await IssueAsync(ca, name, "/CN=" + (dnsNames.Count > 0 ? dnsNames[0] : ipAddresses[0]), KubeKeyType.Rsa,
            $"subjectAltName={san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n",
            cancellationToken);
    }

    /// <summary>
    /// Issues a client certificate for <paramref name="user"/> (the subject's CN) in <paramref name="groups"/> (one O
    /// each), signed by <paramref name="ca"/>, with the key in <paramref name="keyType"/>'s format.
    /// </summary>
    public Task<KubeCertificate> IssueClientAsync(KubeCertificate ca, string name, string user, IReadOnlyList<string>? groups = null,
        KubeKeyType keyType = KubeKeyType.Rsa, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentException.ThrowIfNullOrEmpty(user);
        var subject = "/CN=" + Escape(user) + string.Concat((groups ?? []).Select(g => "/O=" + Escape(g)));
        return IssueAsync(ca, name, subject, keyType,
            "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n", cancellationToken);
    }

    /// <summary>An RSA key pair for service-account tokens: <c>{name}.key</c> (private) and <c>{name}.pub</c> (public).</summary>
    public async Task<(string PrivateKeyPath, string PublicKeyPath)> CreateKeyPairAsync(string name, CancellationToken cancellationToken = default)
    {
        var key = Path.Combine(Directory, name + ".key");
        var pub = Path.Combine(Directory, name + ".pub");
        await RunAsync(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key], cancellationToken);
        await RunAsync(["pkey", "-in", key, "-pubout", "-out", pub], cancellationToken);
        return (key, pub);
    }

    private async Task<KubeCertificate> IssueAsync(KubeCertificate ca, string name, string subject, KubeKeyType keyType, string extensions,
        CancellationToken cancellationToken)
    {
        var result = Paths(name);
        var csr = Path.Combine(Directory, name + ".csr");
        var ext = Path.Combine(Directory, name + ".ext");
        await File.WriteAllTextAsync(ext, extensions, cancellationToken);
        var newKey = keyType is KubeKeyType.Ec or KubeKeyType.EcPkcs8
            ? new[] { "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1" }
            : ["-newkey", "rsa:2048"];
        await RunAsync(["req", .. newKey, "-nodes", "-keyout", result.KeyPath, "-out", csr, "-subj", subject], cancellationToken);
        await RunAsync(["x509", "-req", "-in", csr, "-CA", ca.CertificatePath, "-CAkey", ca.KeyPath, "-CAcreateserial",
            "-out", result.CertificatePath, "-days", "2", "-extfile", ext], cancellationToken);
        // openssl 3 writes PKCS#8; the traditional formats are what many kubeconfigs hold.
        var converted = result.KeyPath + ".tmp";
        switch (keyType)
        {
            case KubeKeyType.Rsa:
                await RunAsync(["rsa", "-in", result.KeyPath, "-traditional", "-out", converted], cancellationToken);
                File.Move(converted, result.KeyPath, overwrite: true);
                break;
            case KubeKeyType.Ec:
                await RunAsync(["ec", "-in", result.KeyPath, "-out", converted], cancellationToken);
                File.Move(converted, result.KeyPath, overwrite: true);
                break;
        }
        File.Delete(csr);
        File.Delete(ext);
        return result;
    }

    private KubeCertificate Paths(string name) => new(Path.Combine(Directory, name + ".crt"), Path.Combine(Directory, name + ".key"));

    private static string Escape(string value) => value.Replace("/", "\\/", StringComparison.Ordinal);

    private Task<string> RunAsync(IEnumerable<string> args, CancellationToken cancellationToken) =>
        KubeTools.RunAsync(openssl, args, Directory, cancellationToken: cancellationToken);
}

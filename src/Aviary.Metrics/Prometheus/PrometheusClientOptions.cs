namespace Aviary.Metrics.Prometheus;

/// <summary>Where and how <see cref="PrometheusClient"/> reaches a Prometheus server (Flagger's provider fields).</summary>
public sealed record PrometheusClientOptions
{
    /// <summary>Base URL of the server, e.g. <c>http://prometheus:9090</c>; a path prefix is kept (<c>/prometheus</c>).</summary>
    public required Uri Address { get; init; }

    /// <summary>Time allowed for one query, from sending it to reading the whole answer. Default 5 s (Flagger's).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Queries in flight at once to this server (and connections to it); more wait their turn, within their timeout.
    /// Default 16: a thousand canaries ticking together do not open a thousand connections.
    /// </summary>
    public int MaxConcurrentQueries { get; init; } = 16;

    /// <summary>Bearer token or basic auth, read when a query is sent; none by default.</summary>
    public PrometheusAuth? Auth { get; init; }

    /// <summary>Accept any TLS certificate (Flagger's <c>insecureSkipVerify</c>). Default false.</summary>
    public bool InsecureSkipVerify { get; init; }

    /// <summary>Extra request headers (Flagger's <c>headers</c>), sent with every query.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}

/// <summary>How a query authenticates: a bearer token, or a user name and password (basic auth).</summary>
public sealed record PrometheusAuth
{
    private PrometheusAuth(Credential? token, Credential? username, Credential? password)
    {
        Token = token;
        Username = username;
        Password = password;
    }

    public Credential? Token { get; }
    public Credential? Username { get; }
    public Credential? Password { get; }

    /// <summary><c>Authorization: Bearer &lt;token&gt;</c>.</summary>
    public static PrometheusAuth Bearer(Credential token) => new(token ?? throw new ArgumentNullException(nameof(token)), null, null);

    /// <summary><c>Authorization: Basic …</c>; like Flagger, nothing is sent when either part reads empty.</summary>
    public static PrometheusAuth Basic(Credential username, Credential password) =>
        new(null, username ?? throw new ArgumentNullException(nameof(username)), password ?? throw new ArgumentNullException(nameof(password)));

    public override string ToString() => Token is not null ? $"bearer token from {Token}" : $"basic auth from {Username} and {Password}";
}

/// <summary>
/// A secret value and where it comes from: a file (read at every use, so a rotated token applies at once), an
/// environment variable, or a value resolved elsewhere (e.g. from a Secret). <see cref="ToString"/> names the
/// source and never the value; values are never logged.
/// </summary>
public sealed class Credential
{
    private readonly string _text;
    private readonly Kind _kind;

    private Credential(Kind kind, string location)
    {
        _kind = kind;
        _text = location;
    }

    private enum Kind
    {
        File,
        Environment,
        Value,
    }

    /// <summary>Read from <paramref name="path"/> at every use; surrounding whitespace (a final newline) is removed.</summary>
    public static Credential FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new Credential(Kind.File, path);
    }

    /// <summary>Read from the environment variable <paramref name="variable"/> at every use, trimmed.</summary>
    public static Credential FromEnvironment(string variable)
    {
        ArgumentException.ThrowIfNullOrEmpty(variable);
        return new Credential(Kind.Environment, variable);
    }

    /// <summary>A value already at hand (e.g. a key of a Secret).</summary>
    public static Credential FromValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new Credential(Kind.Value, value);
    }

    /// <summary>The value, or an error that says where it was looked for (never what it holds).</summary>
    public Core.Abstractions.Outcome<string> Read()
    {
        switch (_kind)
        {
            case Kind.Value:
                return _text;
            case Kind.Environment:
                var value = Environment.GetEnvironmentVariable(_text);
                return value is null ? Core.Abstractions.Outcome<string>.Fail($"environment variable {_text} is not set") : value.Trim();
            default:
                try
                {
                    return File.ReadAllText(_text).Trim();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return Core.Abstractions.Outcome<string>.Fail($"cannot read {_text}: {e.Message}");
                }
        }
    }

    public override string ToString() => _kind switch
    {
        Kind.File => $"file {_text}",
        Kind.Environment => $"environment variable {_text}",
        _ => "a value (not shown)",
    };
}

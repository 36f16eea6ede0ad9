using System.Net;
using System.Text.RegularExpressions;
using Aviary.Hooks.Webhooks;

namespace Aviary.Hooks.LoadTester;

/// <summary>When a <c>hey</c> command runs in-process on <see cref="LoadGenerator"/> instead of the hey program.</summary>
public enum BuiltinHeyMode
{
    /// <summary>When no <c>hey</c> program is found on PATH (the default).</summary>
    WhenMissing,

    /// <summary>Always, even when hey is installed.</summary>
    Always,

    /// <summary>Never: a hey command needs the hey program.</summary>
    Never,
}

/// <summary>Options of <see cref="LoadTesterServer"/>, the flagger-loadtester compatible server.</summary>
public sealed record LoadTesterOptions
{
    /// <summary>The address to listen on: an IP address, <c>localhost</c>, or <c>*</c> for every interface. Default 127.0.0.1.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>The port; 0 picks a free one (see <see cref="LoadTesterServer.Address"/>). Default 9090, flagger-loadtester's.</summary>
    public int Port { get; init; } = 9090;

    /// <summary>
    /// The folder of the gate state file (<c>gates.json</c>), so that opened and closed gates survive a restart;
    /// created when missing. Null keeps the gates in memory only, as Flagger does. Default null.
    /// </summary>
    public string? StateDirectory { get; init; }

    /// <summary>
    /// The programs commands may run: a bare name (looked up on PATH) allows that program wherever it is found; a
    /// path allows exactly that file. <c>hey</c> covers the built-in generator too. Default <c>hey</c>, <c>curl</c>.
    /// </summary>
    public IReadOnlyList<string> AllowedPrograms { get; init; } = ["hey", "curl"];

    /// <summary>When hey commands run on the built-in generator. Default <see cref="BuiltinHeyMode.WhenMissing"/>.</summary>
    public BuiltinHeyMode BuiltinHey { get; init; } = BuiltinHeyMode.WhenMissing;

    /// <summary>
    /// Run <c>type: bash</c> commands with <c>bash -c</c>, as Flagger does: any shell text, whatever
    /// <see cref="AllowedPrograms"/> says. Without it (the default) bash commands are split into words and run
    /// directly under the allowlist, like <c>type: cmd</c> ones.
    /// </summary>
    public bool EnableBash { get; init; }

    /// <summary>
    /// A file holding the token every call must carry as <c>Authorization: Bearer &lt;token&gt;</c>, or else sign with as
    /// its webhook signing secret (<see cref="WebhookSignature"/>). Wins over <see cref="TokenEnvironmentVariable"/>.
    /// Neither set: no authentication (Flagger's behaviour). <c>/healthz</c> is always open.
    /// </summary>
    public string? TokenFile { get; init; }

    /// <summary>An environment variable holding the token; removed from the environment of the commands run.</summary>
    public string? TokenEnvironmentVariable { get; init; }

    /// <summary>How far a signature's timestamp may be from the clock. Default 5 minutes.</summary>
    public TimeSpan SignatureTolerance { get; init; } = WebhookSignature.DefaultTolerance;

    /// <summary>How long one command may run before it is killed. Default 1 hour, flagger-loadtester's <c>-timeout</c>.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// A regular expression the canary's namespace must match, else 403 (flagger-loadtester's <c>-namespace-regexp</c>).
    /// Null allows every namespace. Default null.
    /// </summary>
    public string? NamespacePattern { get; init; }

    /// <summary>The most output kept of one command, in characters; the rest is dropped. Default 1 MiB.</summary>
    public int MaxOutputChars { get; init; } = 1 << 20;

    /// <summary>The largest request body accepted. Default 1 MiB.</summary>
    public int MaxRequestBodyBytes { get; init; } = 1 << 20;

    /// <summary>Every problem with these options (empty when they are usable).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (BindAddress is not ("localhost" or "*") && !IPAddress.TryParse(BindAddress, out _))
            errors.Add($"bind address '{BindAddress}' is not an IP address, localhost or *");
        if (Port is < 0 or > 65535) errors.Add($"port {Port} is out of range");
        if (CommandTimeout <= TimeSpan.Zero) errors.Add("command timeout must be positive");
        if (SignatureTolerance <= TimeSpan.Zero) errors.Add("signature tolerance must be positive");
        if (MaxOutputChars < 1) errors.Add("max output must be positive");
        if (MaxRequestBodyBytes < 1) errors.Add("max request body must be positive");
        if (AllowedPrograms.Any(string.IsNullOrWhiteSpace)) errors.Add("allowed programs must not be empty names");
        if (NamespacePattern is not null)
        {
            try
            {
                _ = new Regex(NamespacePattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                errors.Add($"namespace pattern: {e.Message}");
            }
        }
        return errors;
    }
}

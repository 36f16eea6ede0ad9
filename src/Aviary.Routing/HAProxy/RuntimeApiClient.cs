using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Aviary.Core.Abstractions;

namespace Aviary.Routing.HAProxy;

/// <summary>
/// A client of HAProxy's runtime API (the <c>stats socket</c>, a Unix socket): one command per connection, which is
/// how HAProxy answers a non-interactive client (it closes the connection after the answer). Expected failures — the
/// socket is missing or refuses, HAProxy answers with an error such as <c>No such server.</c>, or no answer arrives
/// in time — are <see cref="Outcome"/> errors, never exceptions. Thread-safe: connections are not shared.
/// </summary>
public sealed class RuntimeApiClient
{
    private readonly TimeProvider _time;

    /// <param name="socketPath">The stats socket (or, for <see cref="ShowProcAsync"/>, the master CLI socket).</param>
    /// <param name="timeout">Longest wait for one command, connection included; default 5 seconds.</param>
    /// <param name="timeProvider">The clock of the timeout; default the system clock.</param>
    public RuntimeApiClient(string socketPath, TimeSpan? timeout = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        SocketPath = socketPath;
        Timeout = timeout ?? TimeSpan.FromSeconds(5);
        if (Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), "must be positive");
        _time = timeProvider ?? TimeProvider.System;
    }

    public string SocketPath { get; }

    public TimeSpan Timeout { get; }

    /// <summary>
    /// Sends <paramref name="command"/> and returns HAProxy's whole answer as written (HAProxy ends every answer with an
    /// empty line). Fails only when the socket cannot be reached or does not answer in time: HAProxy's own error
    /// answers are returned as text (the typed methods recognise them).
    /// </summary>
    /// <exception cref="ArgumentException">The command is empty or holds a line break.</exception>
    public async Task<Outcome<string>> ExecuteAsync(string command, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        if (command.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException("a command is one line", nameof(command));
        using var timeout = new CancellationTokenSource(Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), linked.Token).ConfigureAwait(false);
            await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"), SocketFlags.None, linked.Token).ConfigureAwait(false);
            using var answer = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, linked.Token).ConfigureAwait(false)) > 0)
                answer.Write(buffer, 0, read);
            return Outcome<string>.Ok(Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Outcome<string>.Fail($"HAProxy runtime API at {SocketPath}: no answer to '{Verb(command)}' within {Timeout.TotalSeconds:0.###}s");
        }
        catch (SocketException e)
        {
            return Outcome<string>.Fail($"HAProxy runtime API at {SocketPath}: {Describe(e)}");
        }
    }

    /// <summary><c>show stat [&lt;proxy&gt; &lt;types&gt; -1]</c>: the statistics of every proxy, or of one proxy's objects.</summary>
    /// <param name="proxy">A frontend or backend name; null for everything.</param>
    /// <param name="types">With a proxy: 1 frontends, 2 backends, 4 servers, ORed; default all.</param>
    public async Task<Outcome<IReadOnlyList<StatRow>>> ShowStatAsync(string? proxy, int types, CancellationToken cancellationToken)
    {
        var command = proxy is null ? "show stat" : $"show stat {CheckName(proxy, nameof(proxy))} {types.ToString(CultureInfo.InvariantCulture)} -1";
        var answer = await ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome<IReadOnlyList<StatRow>>.Fail(answer.Error!);
        return ParseStat(answer.Value!) is { } rows
            ? Outcome<IReadOnlyList<StatRow>>.Ok(rows)
            : Outcome<IReadOnlyList<StatRow>>.Fail(ErrorOf(command, answer.Value!));
    }

    /// <summary>The servers of one backend from <c>show stat</c> (status, sessions, weights, address).</summary>
    public Task<Outcome<IReadOnlyList<StatRow>>> ShowServerStatsAsync(string backend, CancellationToken cancellationToken) =>
        ShowStatAsync(backend, 4, cancellationToken);

    /// <summary><c>show servers state [&lt;backend&gt;]</c>.</summary>
    public async Task<Outcome<IReadOnlyList<ServerStateRow>>> ShowServersStateAsync(string? backend, CancellationToken cancellationToken)
    {
        var command = backend is null ? "show servers state" : $"show servers state {CheckName(backend, nameof(backend))}";
        var answer = await ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome<IReadOnlyList<ServerStateRow>>.Fail(answer.Error!);
        return ParseServersState(answer.Value!) is { } rows
            ? Outcome<IReadOnlyList<ServerStateRow>>.Ok(rows)
            : Outcome<IReadOnlyList<ServerStateRow>>.Fail(ErrorOf(command, answer.Value!));
    }

    /// <summary><c>show info</c>: the process's <c>Name: value</c> lines (<c>Pid</c>, <c>Version</c>, <c>Uptime_sec</c>, …).</summary>
    public async Task<Outcome<IReadOnlyDictionary<string, string>>> ShowInfoAsync(CancellationToken cancellationToken)
    {
        var answer = await ExecuteAsync("show info", cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome<IReadOnlyDictionary<string, string>>.Fail(answer.Error!);
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Lines(answer.Value!))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0) info[line[..colon]] = line[(colon + 1)..].Trim();
        }
        return info.ContainsKey("Pid")
            ? Outcome<IReadOnlyDictionary<string, string>>.Ok(info)
            : Outcome<IReadOnlyDictionary<string, string>>.Fail(ErrorOf("show info", answer.Value!));
    }

    /// <summary>The worker's process id from <c>show info</c>.</summary>
    public async Task<Outcome<int>> GetPidAsync(CancellationToken cancellationToken)
    {
        var info = await ShowInfoAsync(cancellationToken).ConfigureAwait(false);
        if (!info.Succeeded) return Outcome<int>.Fail(info.Error!);
        return int.TryParse(info.Value!["Pid"], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? Outcome<int>.Ok(pid)
            : Outcome<int>.Fail($"show info: unreadable Pid '{info.Value!["Pid"]}'");
    }

    /// <summary><c>set server &lt;backend&gt;/&lt;server&gt; addr &lt;ip&gt; port &lt;port&gt;</c>.</summary>
    public async Task<Outcome> SetServerAddressAsync(string backend, string server, IPAddress address, int port, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var command = $"set server {ServerRef(backend, server)} addr {address} port {port.ToString(CultureInfo.InvariantCulture)}";
        var answer = await ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome.Fail(answer.Error!);
        // HAProxy reports what it did ("IP changed from …", "no need to change the addr, port changed from …").
        var text = answer.Value!;
        return text.Contains("changed from", StringComparison.Ordinal) || text.Contains("no need to change", StringComparison.Ordinal)
            ? Outcome.Ok
            : Outcome.Fail(ErrorOf(command, text));
    }

    /// <summary><c>set server &lt;backend&gt;/&lt;server&gt; state ready|drain|maint</c>.</summary>
    public Task<Outcome> SetServerStateAsync(string backend, string server, ServerAdminState state, CancellationToken cancellationToken) =>
        ExpectEmptyAsync($"set server {ServerRef(backend, server)} state {state.ToString().ToLowerInvariant()}", cancellationToken);

    /// <summary><c>set server &lt;backend&gt;/&lt;server&gt; weight &lt;weight&gt;</c>, an absolute weight 0..256.</summary>
    public Task<Outcome> SetServerWeightAsync(string backend, string server, int weight, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(weight, MaxWeight);
        return ExpectEmptyAsync($"set server {ServerRef(backend, server)} weight {weight.ToString(CultureInfo.InvariantCulture)}", cancellationToken);
    }

    /// <summary>The master CLI's <c>show proc</c> (this client must point at the master socket, <c>haproxy -W -S</c>).</summary>
    public async Task<Outcome<IReadOnlyList<ProcessRow>>> ShowProcAsync(CancellationToken cancellationToken)
    {
        // The master CLI keeps a connection open after a command unless told to quit.
        var answer = await ExecuteAsync("show proc; quit", cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome<IReadOnlyList<ProcessRow>>.Fail(answer.Error!);
        return ParseProc(answer.Value!) is { } rows
            ? Outcome<IReadOnlyList<ProcessRow>>.Ok(rows)
            : Outcome<IReadOnlyList<ProcessRow>>.Fail(ErrorOf("show proc", answer.Value!));
    }

    /// <summary>The master CLI's <c>reload</c> (like SIGUSR2 to the master); see <see cref="ShowProcAsync"/> for its outcome.</summary>
    public async Task<Outcome> ReloadAsync(CancellationToken cancellationToken)
    {
        var answer = await ExecuteAsync("reload", cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome.Fail(answer.Error!);
        var text = answer.Value!.Trim();
        return text.Length == 0 ? Outcome.Ok : Outcome.Fail(ErrorOf("reload", text));
    }

    /// <summary>The largest absolute server weight HAProxy accepts.</summary>
    public const int MaxWeight = 256;

    private async Task<Outcome> ExpectEmptyAsync(string command, CancellationToken cancellationToken)
    {
        var answer = await ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        if (!answer.Succeeded) return Outcome.Fail(answer.Error!);
        // Successful "set" commands answer with nothing but the closing empty line.
        return answer.Value!.Trim().Length == 0 ? Outcome.Ok : Outcome.Fail(ErrorOf(command, answer.Value!));
    }

    /// <summary>
    /// Parses <c>show stat</c>'s CSV: a header line <c># pxname,svname,…</c>, then one line per object. Columns are
    /// read by header name, so added columns of later versions do not matter. Null when the text is not a stat dump
    /// (for example HAProxy's <c>No such proxy.</c>).
    /// </summary>
    public static IReadOnlyList<StatRow>? ParseStat(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = Lines(text).ToList();
        if (lines.Count == 0 || !lines[0].StartsWith("# pxname,", StringComparison.Ordinal)) return null;
        var header = lines[0][2..].Split(',');
        List<StatRow> rows = [];
        foreach (var line in lines.Skip(1))
        {
            if (line.StartsWith('#')) continue;
            var values = line.Split(',');
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < header.Length && i < values.Length; i++)
                if (header[i].Length > 0 && header[i] != "-") fields[header[i]] = values[i];
            string Get(string name) => fields.TryGetValue(name, out var v) ? v : "";
            var type = int.TryParse(Get("type"), NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? (StatType)t
                : Get("svname") switch { "FRONTEND" => StatType.Frontend, "BACKEND" => StatType.Backend, _ => StatType.Server };
            var status = Get("status");
            rows.Add(new StatRow(Get("pxname"), Get("svname"), type, Long(Get("scur")), Long(Get("qcur")), Long(Get("stot")),
                StatusOf(status), status, Int(Get("weight")), Int(Get("uweight")), Get("addr") is { Length: > 0 } a ? a : null, fields));
        }
        return rows;
    }

    /// <summary>Parses <c>show servers state</c> (format version 1); null when the text is not such a dump.</summary>
    public static IReadOnlyList<ServerStateRow>? ParseServersState(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = Lines(text).ToList();
        if (lines.Count < 2 || lines[0] != "1" || !lines[1].StartsWith("# be_id ", StringComparison.Ordinal)) return null;
        var header = lines[1][2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int Column(string name) => Array.IndexOf(header, name);
        int beId = Column("be_id"), beName = Column("be_name"), srvId = Column("srv_id"), srvName = Column("srv_name"), addr = Column("srv_addr"),
            op = Column("srv_op_state"), admin = Column("srv_admin_state"), uweight = Column("srv_uweight"), iweight = Column("srv_iweight"),
            port = Column("srv_port");
        if (new[] { beId, beName, srvId, srvName, addr, op, admin, uweight, iweight }.Any(i => i < 0)) return null;
        List<ServerStateRow> rows = [];
        foreach (var line in lines.Skip(2))
        {
            if (line.StartsWith('#')) continue;
            var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (v.Length < header.Length) continue;
            rows.Add(new ServerStateRow(Int(v[beId]) ?? 0, v[beName], Int(v[srvId]) ?? 0, v[srvName], v[addr],
                (ServerOperationalState)(Int(v[op]) ?? 0), (ServerAdminFlags)(Int(v[admin]) ?? 0), Int(v[uweight]) ?? 0,
                Int(v[iweight]) ?? 0, port >= 0 ? Int(v[port]) ?? 0 : 0));
        }
        return rows;
    }

    /// <summary>Parses the master CLI's <c>show proc</c>; null when the text is not such a listing.</summary>
    public static IReadOnlyList<ProcessRow>? ParseProc(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = Lines(text).ToList();
        if (lines.Count == 0 || !lines[0].StartsWith("#<PID>", StringComparison.Ordinal)) return null;
        List<ProcessRow> rows = [];
        var old = false;
        foreach (var line in lines.Skip(1))
        {
            if (line.StartsWith('#'))
            {
                old = line.Contains("old", StringComparison.Ordinal);
                continue;
            }
            var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (v.Length < 3 || Int(v[0]) is not { } pid) continue;
            var failed = 0;
            var failedAt = Array.IndexOf(v, "[failed:");
            if (failedAt > 0 && failedAt + 1 < v.Length) failed = Int(v[failedAt + 1].TrimEnd(']')) ?? 0;
            rows.Add(new ProcessRow(pid, v[1], Int(v[2]) ?? 0, failed, old));
        }
        return rows;
    }

    private static ServerStatus StatusOf(string status) => status switch
    {
        "no check" => ServerStatus.Up,
        "NOLB" => ServerStatus.NoLoadBalancing,
        _ when status.StartsWith("UP", StringComparison.Ordinal) => ServerStatus.Up,
        _ when status.StartsWith("DOWN", StringComparison.Ordinal) => ServerStatus.Down,
        _ when status.StartsWith("DRAIN", StringComparison.Ordinal) => ServerStatus.Drain,
        _ when status.StartsWith("MAINT", StringComparison.Ordinal) => ServerStatus.Maint,
        _ => ServerStatus.Unknown,
    };

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);

    private static long Long(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;

    private static int? Int(string s) => int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string Verb(string command) => command.Length > 60 ? command[..60] + "…" : command;

    private static string ErrorOf(string command, string answer)
    {
        var text = string.Join(" ", Lines(answer)).Trim();
        if (text.Length == 0) text = "(empty answer)";
        else if (text.Length > 300) text = text[..300] + "…";
        return $"HAProxy refused '{Verb(command)}': {text}";
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported => "the socket does not exist",
        SocketError.ConnectionRefused => "connection refused (HAProxy is not running?)",
        SocketError.AccessDenied => "permission denied",
        _ => e.Message,
    };

    private static string ServerRef(string backend, string server) =>
        $"{CheckName(backend, nameof(backend))}/{CheckName(server, nameof(server))}";

    /// <summary>HAProxy's names are made of letters, digits, '-', '_', '.' and ':'; anything else could inject a command.</summary>
    internal static string CheckName(string name, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameter);
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
                throw new ArgumentException($"'{name}' is not an HAProxy name (letters, digits, '-', '_', '.', ':')", parameter);
        }
        return name;
    }
}

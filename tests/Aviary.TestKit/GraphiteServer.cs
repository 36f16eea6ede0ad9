using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Aviary.TestKit;

/// <summary>
/// A real Graphite: Debian's <c>carbon-cache</c> (whisper storage, plaintext receiver) and <c>graphite-web</c> (its render
/// API, served by Python's WSGI server), both on 127.0.0.1 with free ports and one temporary folder holding their
/// generated configuration, a SQLite database and the whisper files (10 s resolution). Installed when missing.
/// <see cref="SendAsync"/> writes points through carbon's plaintext protocol and returns once graphite-web renders them.
/// <see cref="DisposeAsync"/> stops both and deletes the folder.
/// </summary>
public sealed class GraphiteServer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    private readonly List<Process> _processes = [];
    private readonly HttpClient _http;
    private readonly int _linePort;

    private GraphiteServer(string dir, int webPort, int linePort)
    {
        Dir = dir;
        _linePort = linePort;
        Url = new Uri($"http://127.0.0.1:{webPort.ToString(CultureInfo.InvariantCulture)}");
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    /// <summary>graphite-web's base URL (the render API is <c>/render</c>).</summary>
    public Uri Url { get; }

    public string Dir { get; }

    public string Log => string.Join("\n", new[] { "carbon.log", "web.log" }.Select(f => Path.Combine(Dir, f)).Where(File.Exists).Select(ReadShared));

    public static async Task<GraphiteServer> StartAsync()
    {
        DebianPackages.Ensure("graphite-carbon", "graphite-web");
        var dir = Directory.CreateTempSubdirectory("aviary-graphite-").FullName;
        foreach (var sub in new[] { "whisper", "log", "conf" }) Directory.CreateDirectory(Path.Combine(dir, sub));
        var (web, line, pickle, query) = (FreePorts.Next(), FreePorts.Next(), FreePorts.Next(), FreePorts.Next());
        string P(int port) => port.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(dir, "conf", "carbon.conf"), $"""
            [cache]
            STORAGE_DIR = {dir}/
            LOCAL_DATA_DIR = {dir}/whisper/
            CONF_DIR = {dir}/conf/
            LOG_DIR = {dir}/log/
            PID_DIR = {dir}/
            ENABLE_LOGROTATION = False
            MAX_CACHE_SIZE = inf
            MAX_UPDATES_PER_SECOND = inf
            MAX_CREATES_PER_MINUTE = inf
            LINE_RECEIVER_INTERFACE = 127.0.0.1
            LINE_RECEIVER_PORT = {P(line)}
            ENABLE_UDP_LISTENER = False
            PICKLE_RECEIVER_INTERFACE = 127.0.0.1
            PICKLE_RECEIVER_PORT = {P(pickle)}
            CACHE_QUERY_INTERFACE = 127.0.0.1
            CACHE_QUERY_PORT = {P(query)}
            WHISPER_AUTOFLUSH = True
            """);
        File.WriteAllText(Path.Combine(dir, "conf", "storage-schemas.conf"), "[default]\npattern = .*\nretentions = 10s:1d\n");
        File.WriteAllText(Path.Combine(dir, "aviary_graphite.py"), $"""
            from graphite.settings import *  # noqa: F401,F403
            SECRET_KEY = 'aviary-test-only'
            STORAGE_DIR = '{dir}/'
            WHISPER_DIR = '{dir}/whisper/'
            STANDARD_DIRS = [WHISPER_DIR]
            LOG_DIR = '{dir}/log/'
            INDEX_FILE = '{dir}/index'
            CARBONLINK_HOSTS = ['127.0.0.1:{P(query)}']
            DATABASES = {"{"}'default': {"{"}'NAME': '{dir}/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'{"}"}{"}"}
            ALLOWED_HOSTS = ['127.0.0.1']
            """);
        File.WriteAllText(Path.Combine(dir, "serve.py"), $"""
            import os, sys
            sys.path.insert(0, '{dir}')
            os.environ['DJANGO_SETTINGS_MODULE'] = 'aviary_graphite'
            import django
            django.setup()
            from django.core.management import call_command
            call_command('migrate', verbosity=0, interactive=False)
            from django.core.wsgi import get_wsgi_application
            from wsgiref.simple_server import make_server, WSGIRequestHandler
            class Quiet(WSGIRequestHandler):
                def log_message(self, *args):
                    pass
            make_server('127.0.0.1', {P(web)}, get_wsgi_application(), handler_class=Quiet).serve_forever()
            """);
        var server = new GraphiteServer(dir, web, line);
        try
        {
            server.Start("/usr/bin/carbon-cache", ["--config=" + Path.Combine(dir, "conf", "carbon.conf"), "--nodaemon", "start"], "carbon.log");
            server.Start(Python, [Path.Combine(dir, "serve.py")], "web.log");
            await Eventually.True(async () =>
            {
                if (server._processes.FirstOrDefault(p => p.HasExited) is { } gone)
                    throw new Xunit.Sdk.XunitException($"{gone.StartInfo.FileName} exited: {server.Log}");
                using var response = await server._http.GetAsync("/render?target=none&format=json");
                return response.IsSuccessStatusCode && server.CarbonListens();
            }, TimeSpan.FromMinutes(2), () => Task.FromResult(server.Log), what: "carbon-cache and graphite-web answering");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private void Start(string program, string[] args, string log)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Dir };
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var writer = new StreamWriter(new FileStream(Path.Combine(Dir, log), FileMode.Create, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    private bool CarbonListens()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", _linePort);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Sends <c>path value timestamp</c> lines (Unix seconds) through carbon's plaintext protocol and waits until
    /// graphite-web renders a value for <paramref name="visible"/> (a render target).
    /// </summary>
    public async Task SendAsync(IEnumerable<string> lines, string visible)
    {
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", _linePort);
            var bytes = Encoding.ASCII.GetBytes(string.Join("\n", lines) + "\n");
            await client.GetStream().WriteAsync(bytes);
        }
        await Eventually.True(async () =>
        {
            var answer = await _http.GetStringAsync($"/render?target={Uri.EscapeDataString(visible)}&from=-1d&format=json");
            return System.Text.RegularExpressions.Regex.IsMatch(answer, @"\[\s*-?[0-9]");
        }, TimeSpan.FromMinutes(1), () => Task.FromResult(Log), what: $"graphite rendering {visible}");
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        _http.Dispose();
        foreach (var p in _processes)
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }
            p.Dispose();
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

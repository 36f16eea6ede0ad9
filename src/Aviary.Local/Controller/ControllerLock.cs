namespace Aviary.Local.Controller;

/// <summary>One controller per state directory: an exclusive lock on a file, released by the kernel if the process dies.</summary>
internal sealed class ControllerLock(string path)
{
    private FileStream? _stream;

    /// <summary>Null when acquired; otherwise who holds it.</summary>
    public string? TryAcquire()
    {
        try
        {
            _stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            _stream.SetLength(0);
            using var writer = new StreamWriter(_stream, leaveOpen: true);
            writer.Write(Environment.ProcessId);
            writer.Flush();
            return null;
        }
        catch (IOException)
        {
            try
            {
                return "pid " + File.ReadAllText(path).Trim();
            }
            catch (IOException)
            {
                return "unknown pid";
            }
        }
    }

    public void Release()
    {
        _stream?.Dispose();
        _stream = null;
    }
}
